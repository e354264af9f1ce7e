package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/notify/notifytest"
)

// Start, test and stop notifications reach a real SMTP server (STARTTLS,
// authentication) and a webhook receiver, and are logged.
func TestNotificationsByMailAndWebhook(t *testing.T) {
	srv, err := notifytest.StartSMTP("lmtriad", "smtp-secret")
	require.NoError(t, err)
	defer srv.Close()
	hooks, err := notifytest.StartHooks()
	require.NoError(t, err)
	defer hooks.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "smtp-ca.pem")
	require.NoError(t, os.WriteFile(ca, srv.CertPEM, 0o644))
	t.Setenv("LMTRIAD_SMTP_PASSWORD", "smtp-secret") // lmgrd's environment: the harness passes os.Environ
	port := freePort(t, "127.0.0.1")
	lic := writeLicense(t, dir, "demo.lic", port, demoFeatures)
	p := startLmgrd(t, "-c", lic, "-smtp", srv.Addr, "-smtp-ca", ca, "-smtp-user", "lmtriad",
		"-mail-from", "lmgrd@lic1", "-mail-to", "admin@site,ops@site", "-webhook", hooks.URL)
	p.waitLog(t, "Notification (start): license server")
	require.Eventually(t, func() bool { return len(srv.Mails()) >= 1 && len(hooks.Events()) >= 1 },
		10*time.Second, 20*time.Millisecond, "no start notification arrived")
	m := srv.Mails()[0]
	assert.True(t, m.TLS, "STARTTLS")
	assert.Equal(t, []string{"admin@site", "ops@site"}, m.To)
	assert.Contains(t, m.Data, "Subject: [lmtriad 127.0.0.1] license server")
	assert.Equal(t, "start", hooks.Events()[0]["kind"])

	out, code := lmutil(t, nil, "lmnotify", "-test", "-c", fmt.Sprintf("%d@127.0.0.1", port))
	require.Equal(t, 0, code, out)
	require.Eventually(t, func() bool { return len(srv.Mails()) >= 2 && len(hooks.Events()) >= 2 }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, "test", hooks.Events()[1]["kind"])

	out, code = lmutil(t, nil, "lmdown", "-q", "-c", fmt.Sprintf("%d@127.0.0.1", port))
	require.Equal(t, 0, code, out)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatal("lmgrd still running after lmdown")
	}
	events := hooks.Events()
	require.Len(t, events, 3, "the stop notification goes out before lmgrd exits")
	assert.Equal(t, "stop", events[2]["kind"])
	assert.Contains(t, events[2]["text"], "shut down by lmdown from")
	require.Len(t, srv.Mails(), 3)
	assert.NotContains(t, p.log.String(), "smtp-secret", "the SMTP password is never logged")
	assert.True(t, strings.Contains(p.log.String(), "Notification (stop):"))
}
