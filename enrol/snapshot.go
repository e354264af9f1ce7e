package enrol

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/lmtriad/lmtriad/adminauth"
)

// EncodeSnapshot joins the license tables' snapshot (package table) and
// the enrolled set into one raft snapshot.
func EncodeSnapshot(tables []byte, set *Set) ([]byte, error) {
	js, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("enrol: encoding the set: %w", err)
	}
	b := make([]byte, 0, 2+binary.MaxVarintLen64+len(tables)+len(js))
	b = append(b, formatSnapshot, version)
	b = binary.AppendUvarint(b, uint64(len(tables)))
	b = append(b, tables...)
	return append(b, js...), nil
}

// DecodeSnapshot splits what EncodeSnapshot wrote. A snapshot written
// before enrolment existed (the tables alone) comes back whole as tables,
// with an empty set.
func DecodeSnapshot(data []byte) (tables []byte, set *Set, err error) {
	if len(data) < 2 || data[0] != formatSnapshot {
		return data, NewSet(), nil
	}
	if data[1] != version {
		return nil, nil, fmt.Errorf("%w: snapshot version %d unknown (this build reads version %d)", ErrMalformed, data[1], version)
	}
	n, k := binary.Uvarint(data[2:])
	if k <= 0 || n > uint64(len(data)-2-k) {
		return nil, nil, fmt.Errorf("%w: snapshot: bad length of the tables", ErrMalformed)
	}
	rest := data[2+k:]
	tables, rest = rest[:n], rest[n:]
	set = NewSet()
	if err := strictJSON(rest, set); err != nil {
		return nil, nil, fmt.Errorf("snapshot: %w", err)
	}
	if set.Files == nil {
		set.Files = map[string]Doc{}
	}
	for name, d := range set.Files {
		if err := ValidName(name); err != nil {
			return nil, nil, fmt.Errorf("%w: snapshot: %v", ErrMalformed, err)
		}
		if len(d.Body) > MaxFileSize {
			return nil, nil, fmt.Errorf("%w: snapshot: %s too large", ErrMalformed, name)
		}
	}
	for level, c := range set.Passwords {
		if !adminauth.ValidLevel(level) {
			return nil, nil, fmt.Errorf("%w: snapshot: password level %q", ErrMalformed, level)
		}
		if err := c.Validate(); err != nil {
			return nil, nil, fmt.Errorf("%w: snapshot: %s password: %v", ErrMalformed, level, err)
		}
	}
	return tables, set, nil
}
