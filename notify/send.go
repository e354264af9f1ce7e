package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/smtp"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Sender delivers events.
type Sender interface {
	Send(ctx context.Context, e Event) error
}

// Webhook posts each event as JSON to URL. Chat services put the token
// in the URL's path or query, so errors name the URL only by Redacted.
type Webhook struct {
	URL    string
	Client *http.Client // nil: a client with a 10 s timeout
}

// CheckWebhookURL says why raw cannot be a webhook URL (not http or
// https, no host); the error shows no more of it than Redacted.
func CheckWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("webhook %s: want an http:// or https:// URL with a host", Webhook{URL: raw}.Redacted())
	}
	return nil
}

// Redacted is the URL without what may be a secret: scheme and host,
// "/..." for a path or query, no user information.
func (w Webhook) Redacted() string {
	u, err := url.Parse(w.URL)
	if err != nil || u.Host == "" {
		return "(unreadable URL)"
	}
	out := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		out += "/..."
	}
	return out
}

// withoutURL is err without the whole URL a *url.Error prints: its cause.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Send implements Sender.
func (w Webhook) Send(ctx context.Context, e Event) error {
	if err := CheckWebhookURL(w.URL); err != nil {
		return err
	}
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", w.Redacted(), withoutURL(err))
	}
	req.Header.Set("Content-Type", "application/json")
	c := w.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", w.Redacted(), withoutURL(err))
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %s: %s", w.Redacted(), resp.Status)
	}
	return nil
}

// Mail sends each event as a plain-text mail through an SMTP server:
// STARTTLS whenever the server offers it, PLAIN authentication when
// Username is set (only over TLS, or to a loopback server).
type Mail struct {
	Addr     string // host:port
	From     string
	To       []string
	Username string
	Password string
	// TLS, when set, is used for STARTTLS (tests); nil verifies the
	// server's certificate for its host name.
	TLS *tls.Config
}

// Send implements Sender.
func (m Mail) Send(ctx context.Context, e Event) error {
	if m.From == "" || len(m.To) == 0 {
		return errors.New("mail: want -mail-from and -mail-to")
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	}
	host, _, _ := net.SplitHostPort(m.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := m.TLS
		if cfg == nil {
			cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("mail: STARTTLS: %w", err)
		}
	}
	if m.Username != "" {
		// net/smtp's PlainAuth refuses to send the password without TLS
		// except to localhost.
		if err := c.Auth(smtp.PlainAuth("", m.Username, m.Password, host)); err != nil {
			return fmt.Errorf("mail: authentication: %w", err)
		}
	}
	if err := c.Mail(m.From); err != nil {
		return err
	}
	for _, to := range m.To {
		if err := c.Rcpt(to); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: [lmtriad %s] %s\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
		m.From, strings.Join(m.To, ", "), e.Host, oneLine(e.Subject), e.Time.Format(time.RFC1123Z), strings.ReplaceAll(e.Text, "\n", "\r\n"))
	if _, err := w.Write([]byte(b.String())); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// oneLine keeps a header value on one line.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// SendAll sends e to every destination at once, each within ctx, and
// returns the errors of those that failed (in senders' order). At once,
// because a destination that hangs must not hold up the others, nor
// lmgrd's exit for more than one bound.
func SendAll(ctx context.Context, senders []Sender, e Event) []error {
	errs := make([]error, len(senders))
	var wg sync.WaitGroup
	for i, snd := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = snd.Send(ctx, e)
		}()
	}
	wg.Wait()
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	return failed
}
