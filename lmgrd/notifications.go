package main

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/lmtriad/lmtriad/notify"
	"github.com/lmtriad/lmtriad/wire"
)

// Notifications (docs/api.md "Notifications"): lmgrd tells its
// administrators by mail (-smtp, -mail-to, -mail-from) and webhook
// (-webhook) when it starts and stops, and what notify.Watcher finds due
// every notifyEvery. Every notification is also a log line; a failed
// delivery is logged and not retried.

// notifyEvery is how often a member looks for events.
const notifyEvery = 15 * time.Second

// notifySendBound is how long a notification may take to reach all its
// destinations (sent at once): the most a dead mail server or webhook
// delays lmgrd's exit.
const notifySendBound = 15 * time.Second

// senders are the configured destinations.
func (s *server) senders() []notify.Sender {
	var out []notify.Sender
	if s.opts.Webhook != "" {
		out = append(out, notify.Webhook{URL: s.opts.Webhook})
	}
	if s.opts.SMTP != "" {
		m := notify.Mail{Addr: s.opts.SMTP, From: s.opts.MailFrom, To: s.opts.MailTo,
			Username: s.opts.SMTPUser, Password: s.opts.SMTPPassword}
		if s.opts.SMTPCAs != nil {
			host, _, _ := net.SplitHostPort(s.opts.SMTP)
			m.TLS = &tls.Config{ServerName: host, RootCAs: s.opts.SMTPCAs, MinVersion: tls.VersionTLS12}
		}
		out = append(out, m)
	}
	return out
}

// notify logs e and sends it to every destination, each within a bound.
func (s *server) notify(e notify.Event) {
	s.log.Infof("Notification (%s): %s", e.Kind, e.Subject)
	ctx, cancel := context.WithTimeout(context.Background(), notifySendBound)
	defer cancel()
	for _, err := range notify.SendAll(ctx, s.senders(), e) {
		s.log.Warnf("Notification (%s) not delivered: %v", e.Kind, err)
	}
}

// event is an Event from this member now.
func (s *server) event(kind, subject, text string) notify.Event {
	return notify.Event{Kind: kind, Host: s.host, Subject: subject, Text: text, Time: time.Now()}
}

// runNotifications sends the start notification, watches until ctx ends,
// then sends the stop one.
func (s *server) runNotifications(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	if len(s.senders()) == 0 {
		<-ctx.Done()
		return
	}
	s.notify(s.event(notify.KindStart, "license server "+s.portAtHost(s.self)+" started",
		"lmgrd started on "+s.host+" with "+s.opts.LicensePath+"."))
	w := notify.NewWatcher(s.host, s.opts.NotifyRules)
	t := time.NewTicker(notifyEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			why, _ := s.exitWhy.Load().(string)
			if why == "" {
				why = "stopped by a signal"
			}
			s.notify(s.event(notify.KindStop, "license server "+s.portAtHost(s.self)+" stopped", "lmgrd on "+s.host+": "+why+"."))
			return
		case <-t.C:
			for _, e := range w.Observe(s.observe(), time.Now()) {
				s.notify(e)
			}
		}
	}
}

// observe is what this member sees now, for the Watcher.
func (s *server) observe() notify.Observation {
	v := s.view()
	o := notify.Observation{Members: map[string]bool{}, VendorsUp: map[string]bool{}, DiskPercent: -1}
	for i, sv := range s.servers {
		o.Members[sv.Host] = v.up[i]
	}
	s.mu.Lock()
	for n, vp := range s.vendors {
		up, _ := vp.up()
		o.VendorsUp[n] = up
	}
	files := s.files
	s.mu.Unlock()
	for _, f := range files {
		for _, ft := range f.Features {
			if !ft.Expiry.IsZero() {
				o.Expiring = append(o.Expiring, notify.Expiring{Vendor: ft.Vendor, Feature: ft.Name, Version: ft.Version,
					Expiry: ft.Expiry.Time().AddDate(0, 0, 1)})
			}
		}
	}
	if s.isTriad() {
		o.DiskPercent = diskPercent(s.tri.dir)
	}
	return o
}

// diskPercent is how full the file system of dir is, -1 when unknown.
func diskPercent(dir string) float64 {
	var st syscall.Statfs_t
	if dir == "" || syscall.Statfs(dir, &st) != nil || st.Blocks == 0 {
		return -1
	}
	used := st.Blocks - st.Bfree
	return 100 * float64(used) / float64(used+st.Bavail)
}

// testNotification answers NOTIFY (lmutil lmnotify -test): a full-access
// request that sends a test message to every destination and says which
// failed.
func (a *adminSession) testNotification() wire.Message {
	s := a.s
	if err := a.authorise("lmnotify", "NOTIFY test", false, true); err != nil {
		return err.Message()
	}
	senders := s.senders()
	if len(senders) == 0 {
		return wire.NewError(wire.CodeBadComm, 40).WithDetail("no destination: start lmgrd with -smtp/-mail-to/-mail-from or -webhook").Message()
	}
	e := s.event(notify.KindTest, "test notification from "+s.portAtHost(s.self), "lmutil lmnotify -test from "+a.who()+".")
	s.log.Infof("Notification (%s): %s", e.Kind, e.Subject)
	ctx, cancel := context.WithTimeout(s.ctx, notifySendBound)
	defer cancel()
	var failed []string
	for _, err := range notify.SendAll(ctx, senders, e) {
		failed = append(failed, err.Error())
	}
	if len(failed) > 0 {
		return wire.NewError(wire.CodeCantWrite, 40).WithDetail(strings.Join(failed, "; ")).Message()
	}
	return wire.OK("sent", "1")
}

// smtpPasswordEnv is where lmgrd takes the SMTP password from (never a
// flag: it would show in ps).
const smtpPasswordEnv = "LMTRIAD_SMTP_PASSWORD"

func smtpPassword() string { return os.Getenv(smtpPasswordEnv) }
