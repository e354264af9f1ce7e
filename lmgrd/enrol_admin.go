package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lmtriad/lmtriad/enrol"
	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/wire"
)

// lmenroll: an administrator's license file, sent to any member in parts
// ("ENROL name=F part=I parts=N text=..."), checked there as a file dropped
// into its license directory would be, and enrolled through the master.
// The last part is answered once the file is committed and applied on
// this member (every member then writes it), or with the reason it was not.

// enrolWait bounds how long lmenroll waits for its file to be applied.
const enrolWait = 10 * time.Second

// enrolUpload is one file arriving in parts.
type enrolUpload struct {
	name  string
	parts int
	text  strings.Builder
	next  int
}

func enrolError(code, minor int, format string, args ...any) wire.Message {
	m := wire.NewError(code, minor).Message()
	m.Set("detail", fmt.Sprintf(format, args...))
	return m
}

func (a *adminSession) enrol(req wire.Message) wire.Message {
	s := a.s
	if !s.isTriad() {
		return enrolError(wire.CodeNoServSupp, 1, "lmenroll enrols license files in a triad; this is a single license server (edit its license file and run lmreread)")
	}
	name := req.Get("name")
	part, err1 := strconv.Atoi(req.Get("part"))
	parts, err2 := strconv.Atoi(req.Get("parts"))
	if err := enrol.ValidName(name); err != nil {
		return enrolError(wire.CodeBadFile, 2, "%v", err)
	}
	if err1 != nil || err2 != nil || parts < 1 || part < 0 || part >= parts || parts > enrol.MaxFileSize/1024 {
		return enrolError(wire.CodeBadComm, 21, "part %q of %q parts", req.Get("part"), req.Get("parts"))
	}
	if part == 0 {
		a.enrolling = &enrolUpload{name: name, parts: parts}
	}
	up := a.enrolling
	if up == nil || up.name != name || up.parts != parts || up.next != part {
		a.enrolling = nil
		return enrolError(wire.CodeBadComm, 22, "part %d of %s out of order", part, name)
	}
	up.text.WriteString(req.Get("text"))
	up.next++
	if up.text.Len() > enrol.MaxFileSize {
		a.enrolling = nil
		return enrolError(wire.CodeBadFile, 3, "%s is larger than %d bytes", name, enrol.MaxFileSize)
	}
	if up.next < up.parts {
		return wire.OK("part", strconv.Itoa(part))
	}
	a.enrolling = nil
	who := a.hello.Get("user")
	if who == "" {
		who = "an administrator"
	}
	s.log.Infof("lmenroll of %s by %s from %s", name, who, a.conn.RemoteAddr())
	return s.tri.enroller.enrolUploaded(s.ctx, name, []byte(up.text.String()))
}

// enrolUploaded checks an uploaded file, proposes it, and waits until it
// is applied here.
func (e *enroller) enrolUploaded(ctx context.Context, name string, data []byte) wire.Message {
	log := e.t.s.log
	if err := e.checkData(name, data); err != nil {
		logLoadError(log, err)
		log.Errorf("lmenroll: %s not enrolled: %s", name, reason(err))
		return enrolError(wire.CodeBadFile, 4, "%s not enrolled: %v", name, err)
	}
	servers, rest := licfile.SplitServerLines(data)
	doc := enrol.Doc{Body: rest, HasServers: len(servers) > 0}
	entry, err := enrol.Encode(enrol.Entry{Proposer: e.t.s.self, Host: e.t.s.host, Files: []enrol.File{{Name: name, Doc: doc}}})
	if err != nil {
		return enrolError(wire.CodeBadFile, 5, "%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, enrolWait)
	defer cancel()
	e.t.proposeEnrol(entry)
	if err := e.waitEnrolled(ctx, map[string]string{name: doc.Digest()}); err != nil {
		return enrolError(wire.CodeServBusy, 2, "%s not enrolled within %v: the triad has no master serving (see lmstat)", name, enrolWait)
	}
	return wire.OK("enrolled", name)
}
