package main

import (
	"strconv"

	"github.com/sirupsen/logrus"

	"github.com/lmtriad/lmtriad/flexlog"
	"github.com/lmtriad/lmtriad/options"
	"github.com/lmtriad/lmtriad/pool"
	"github.com/lmtriad/lmtriad/wire"
)

// Minor numbers of the queue's lines (protocol §7).
const (
	minorQueued   = 350 // ERR -35 answering CHECKOUT queue=1
	minorDequeued = 604 // REVOKED reason=dequeued
)

// queuedMessage answers a CHECKOUT queue=1 that was queued: ERR code=-35
// with the queued request's handle and secret (which a reattach after a
// failover presents).
func queuedMessage(h pool.Holder) wire.Message {
	m := wire.NewError(wire.CodeFeatQueue, minorQueued).Message()
	m.Set("handle", strconv.FormatUint(h.Handle, 10))
	m.Set("secret", h.Secret)
	return m
}

// grantedMessage tells a client its queued request h is granted:
// GRANTED handle= feature= version= count= secret=.
func grantedMessage(h pool.Holder) wire.Message {
	return wire.New(wire.VerbGranted, "handle", strconv.FormatUint(h.Handle, 10), "feature", h.Feature,
		"version", h.PoolVersion, "count", strconv.Itoa(h.Count), "secret", h.Secret)
}

// dequeuedMessage tells a client its queued request was dropped because it
// can no longer be granted (a reread removed the feature, the options file
// now excludes the client...): REVOKED reason=dequeued with that code.
func dequeuedMessage(dl pool.Delta) wire.Message {
	h := dl.Holder
	m := wire.New(wire.VerbRevoked, "handle", strconv.FormatUint(h.Handle, 10), "feature", h.Feature,
		"count", strconv.Itoa(h.Count), "reason", "dequeued")
	e := wire.NewError(dl.Code, minorDequeued).WithDetail("queued checkout dropped: it can no longer be granted")
	m.Args = append(m.Args, e.Message().Args...)
	return m
}

// tellQueued tells the clients concerned what the queues did in deltas,
// which this daemon produced (as the lone server or a triad's master) by
// an operation other than their own checkout: GRANTED for each queued
// request granted, REVOKED reason=dequeued for each dropped with a code.
// Only clients that said notify=granted at HELLO are told (the others
// cannot have queued). In a triad the grant is told only once the triad
// committed the deltas up to seq: a client never uses a license a new
// master would not know.
func (d *daemon) tellQueued(deltas []pool.Delta, c *committer, seq uint64) {
	type note struct {
		s  *session
		m  wire.Message
		dl pool.Delta
	}
	var notes []note
	for _, dl := range deltas {
		var m wire.Message
		switch {
		case dl.Kind == pool.Grant:
			m = grantedMessage(dl.Holder)
		case dl.Kind == pool.Dequeue && dl.Code != 0:
			m = dequeuedMessage(dl)
		default:
			continue
		}
		s := d.session(dl.Holder.Session)
		if s == nil || !s.queues {
			continue // gone: it reattaches (and is told OK) or its session times out
		}
		notes = append(notes, note{s, m, dl})
	}
	if len(notes) == 0 {
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if !d.committed(c, seq) {
			d.log.Warnf("%d queued checkout(s) granted or dropped but not committed by the triad: clients not told", len(notes))
			return
		}
		for _, n := range notes {
			h := n.dl.Holder
			d.log.Infof("Telling %s@%s its queued %s checkout (handle %d) is %s", h.User, h.Host, h.Feature, h.Handle,
				map[bool]string{true: "granted", false: "dropped"}[n.dl.Kind == pool.Grant])
			n.s.notify(n.m)
		}
	}()
}

// logQueue writes FlexLM's QUEUED and DEQUEUED lines (NOLOG QUEUED leaves
// both out).
func (d *daemon) logQueue(dl pool.Delta, site *options.Options) {
	if site.NoLog(options.LogQueued) {
		return
	}
	h := dl.Holder
	f := logrus.Fields{
		flexlog.FieldFeature: h.Feature,
		flexlog.FieldUser:    h.User,
		flexlog.FieldHost:    h.Host,
		flexlog.FieldCount:   h.Count,
		flexlog.FieldEvent:   flexlog.EventQueued,
	}
	if dl.Kind == pool.Dequeue {
		f[flexlog.FieldEvent] = flexlog.EventDequeued
		if dl.Code != 0 {
			f[flexlog.FieldReason] = wire.NewError(dl.Code, minorDequeued).Error()
		} else if r := releaseNote(dl.Reason); r != "" {
			f[flexlog.FieldReason] = r
		}
	}
	d.log.WithFields(f).Info("usage")
}
