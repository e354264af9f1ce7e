package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/notify/notifytest"
)

func kinds(es []Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Kind)
	}
	return out
}

func TestWatcherReportsEachEventOnce(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	w := NewWatcher("lic1", NewRules())
	obs := Observation{
		Members:   map[string]bool{"lic1": true, "lic2": true, "lic3": false},
		VendorsUp: map[string]bool{"demo": true},
		Expiring: []Expiring{
			{Vendor: "demo", Feature: "solver", Version: "1.0", Expiry: now.AddDate(0, 0, 10)},
			{Vendor: "demo", Feature: "later", Version: "1.0", Expiry: now.AddDate(0, 0, 40)},
		},
		DiskPercent: 50,
	}
	es := w.Observe(obs, now)
	assert.Equal(t, []string{KindExpiring}, kinds(es), "the expiry list at once; lic3 just seen down")
	assert.Contains(t, es[0].Text, "demo solver v1.0 expires 8-Dec-2026")
	assert.NotContains(t, es[0].Text, "later")

	assert.Empty(t, w.Observe(obs, now.Add(4*time.Minute)), "not isolated 5 minutes yet; the expiry list once a day")
	es = w.Observe(obs, now.Add(5*time.Minute))
	require.Equal(t, []string{KindIsolated}, kinds(es))
	assert.Contains(t, es[0].Subject, "lic3 isolated for 5 minutes")
	assert.Empty(t, w.Observe(obs, now.Add(30*time.Minute)), "once per isolation")

	obs.Members["lic3"] = true
	assert.Empty(t, w.Observe(obs, now.Add(31*time.Minute)))
	obs.Members["lic3"] = false
	w.Observe(obs, now.Add(32*time.Minute))
	assert.Equal(t, []string{KindIsolated}, kinds(w.Observe(obs, now.Add(37*time.Minute))), "a new isolation is reported again")

	obs.VendorsUp["demo"] = false
	assert.Equal(t, []string{KindVendorDown}, kinds(w.Observe(obs, now.Add(38*time.Minute))))
	assert.Empty(t, w.Observe(obs, now.Add(39*time.Minute)), "once per down period")

	obs.DiskPercent = 81.5
	assert.Equal(t, []string{KindDisk}, kinds(w.Observe(obs, now.Add(40*time.Minute))))
	assert.Empty(t, w.Observe(obs, now.Add(41*time.Minute)))
	obs.DiskPercent = 82
	assert.Equal(t, []string{KindDisk}, kinds(w.Observe(obs, now.Add(42*time.Minute))), "again at each further percent")

	assert.Equal(t, []string{KindExpiring}, kinds(w.Observe(obs, now.Add(24*time.Hour))), "the next day")
}

func TestRulesValidate(t *testing.T) {
	require.NoError(t, NewRules().Validate())
	for _, r := range []Rules{
		{IsolatedAfter: 30 * time.Second, ExpiringWithin: 14, DiskPercent: 80},
		{IsolatedAfter: 2 * time.Hour, ExpiringWithin: 14, DiskPercent: 80},
		{IsolatedAfter: time.Minute, ExpiringWithin: 31, DiskPercent: 80},
		{IsolatedAfter: time.Minute, ExpiringWithin: 1, DiskPercent: 0},
	} {
		assert.Error(t, r.Validate(), "%+v", r)
	}
}

func TestSendersDeliver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := Event{Kind: KindTest, Host: "lic1", Subject: "test\r\nBcc: evil@example.com", Text: "line 1\nline 2", Time: time.Now()}

	hooks, err := notifytest.StartHooks()
	require.NoError(t, err)
	defer hooks.Close()
	require.NoError(t, Webhook{URL: hooks.URL}.Send(ctx, e))
	require.Len(t, hooks.Events(), 1)
	assert.Equal(t, "test", hooks.Events()[0]["kind"])

	srv, err := notifytest.StartSMTP("lmtriad", "smtp-secret")
	require.NoError(t, err)
	defer srv.Close()
	m := Mail{Addr: srv.Addr, From: "lmgrd@lic1", To: []string{"admin@site"}, Username: "lmtriad", Password: "smtp-secret",
		TLS: &tls.Config{RootCAs: srv.ClientCA, ServerName: "127.0.0.1"}}
	require.NoError(t, m.Send(ctx, e))
	mails := srv.Mails()
	require.Len(t, mails, 1)
	assert.True(t, mails[0].TLS, "STARTTLS was used")
	assert.Equal(t, "lmgrd@lic1", mails[0].From)
	assert.Equal(t, []string{"admin@site"}, mails[0].To)
	assert.Contains(t, mails[0].Data, "Subject: [lmtriad lic1] test  Bcc: evil@example.com\r\n", "the subject stays on one line")
	assert.Contains(t, mails[0].Data, "line 1\r\nline 2")
	assert.Equal(t, 1, strings.Count(mails[0].Data, "Bcc:"))

	m.Password = "wrong"
	assert.Error(t, m.Send(ctx, e))
}

// Chat webhooks carry their token in the URL: a failed delivery names the
// destination by scheme and host only.
func TestWebhookErrorsKeepTheURLSecret(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := Event{Kind: KindTest, Host: "lic1", Subject: "test", Time: time.Now()}
	hooks, err := notifytest.StartHooks()
	require.NoError(t, err)
	hooks.Close() // nothing listens there any more: the POST fails
	secretURL := strings.Replace(hooks.URL, "http://", "http://user:pw-secret@", 1) + "/services/T0/B0/tok-secret?key=q-secret"
	err = Webhook{URL: secretURL}.Send(ctx, e)
	require.Error(t, err)
	for _, s := range []string{"pw-secret", "tok-secret", "q-secret"} {
		assert.NotContains(t, err.Error(), s)
	}
	assert.Contains(t, err.Error(), "webhook http://127.0.0.1:")
	assert.Contains(t, err.Error(), "/...")

	for _, bad := range []string{"ftp://h/x", "/just/a/path", "http://", "::"} {
		assert.Error(t, CheckWebhookURL(bad), bad)
	}
	assert.NoError(t, CheckWebhookURL("https://hooks.example.com/services/T0"))
	assert.Equal(t, "https://hooks.example.com/...", Webhook{URL: "https://u:p@hooks.example.com/services/T0?x=1"}.Redacted())
	assert.Equal(t, "https://hooks.example.com", Webhook{URL: "https://hooks.example.com/"}.Redacted())
}

// senderFunc is a Sender made of a function.
type senderFunc func(ctx context.Context, e Event) error

func (f senderFunc) Send(ctx context.Context, e Event) error { return f(ctx, e) }

// A destination that hangs does not hold up the others: the first one
// here returns only once the second has been called, which one after the
// other never happens within the bound.
func TestSendAllDoesNotWaitForOneDestination(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	secondCalled := make(chan struct{})
	hanging := senderFunc(func(ctx context.Context, e Event) error {
		select {
		case <-secondCalled:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	second := senderFunc(func(ctx context.Context, e Event) error {
		close(secondCalled)
		return nil
	})
	failing := senderFunc(func(ctx context.Context, e Event) error { return errors.New("refused") })
	errs := SendAll(ctx, []Sender{hanging, second, failing}, Event{Kind: KindTest})
	require.Len(t, errs, 1)
	assert.EqualError(t, errs[0], "refused")
}
