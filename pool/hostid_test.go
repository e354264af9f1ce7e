package pool

import "testing"

func TestNodeLock(t *testing.T) {
	w := who{user: "ann", host: "WS1.example.com", display: ":0", hostIDs: []string{"00AABBCCDDEE", "10.1.2.3", "FLEXID=9-abc"}}
	tests := []struct {
		hostid string
		w      who
		want   bool
	}{
		{"", w, true},
		{"ANY", who{}, true},
		{"demo", who{}, true},
		{"00aabbccddee", w, true},
		{"001122334455", w, false},
		{`"001122334455 00AABBCCDDEE"`, w, true},
		{"HOSTNAME=ws1.EXAMPLE.com", w, true},
		{"HOSTNAME=ws2", w, false},
		{"INTERNET=10.1.*.*", w, true},
		{"INTERNET=10.1.2.3", w, true},
		{"INTERNET=10.2.*.*", w, false},
		{"INTERNET=10.1.*.*", who{hostIDs: []string{"INTERNET=10.1.9.9"}}, true},
		{"INTERNET=10.1.*.*", who{hostIDs: []string{"10.1.2"}}, false},
		{"FLEXID=9-ABC", w, true},
		{"ID=00AABBCCDDEE", w, true},
		{"USER=ann", w, true},
		{"USER=bob", w, false},
		{"DISPLAY=:0", w, true},
		{"HOSTNAME=", who{}, false},
	}
	for _, tt := range tests {
		l := parseNodeLock(tt.hostid)
		if got := l.matches(tt.w); got != tt.want {
			t.Errorf("HOSTID=%s matches %+v = %v, want %v", tt.hostid, tt.w, got, tt.want)
		}
	}
}
