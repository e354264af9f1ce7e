// Package client is the library programs import to check licenses out of
// lmtriad (and FlexLM-style) license servers.
//
// # Usage
//
//	c, err := client.New(client.Options{Vendor: "demo"})
//	if err != nil { ... }
//	defer c.Close() // checks in whatever is still held
//
//	lic, err := c.Checkout(ctx, "solver", "1.0", 1)
//	if errors.Is(err, wire.ErrMaxUsers) { ... } // every denial is a *wire.Error
//	defer lic.Checkin()
//
//	go func() {
//		for ev := range lic.Events() { // closed by Checkin
//			// Lost, Regained or Failed; see below.
//		}
//	}()
//
// A Client and its Licenses are safe for concurrent use. Options' zero
// fields take the defaults of NewOptions: the process's user, host, display
// and pid, a heartbeat every 30 s, 1 s to connect to one server and 10 s
// per request.
//
// # Finding servers
//
// The license search path is Options.LicensePath when set. Otherwise it is
// <VENDOR>_LICENSE_FILE (DEMO_LICENSE_FILE for vendor demo) followed by
// LM_LICENSE_FILE, read through Options.Getenv. Its entries, separated by
// ':' or ';', are license files (their SERVER lines are dialled),
// directories (their *.lic files), port@host, @host (ports 27000 to 27009)
// and triads port@h1,port@h2,port@h3. When no path is set at all, Checkout
// fails with -1 (wire.ErrNoConfFile).
//
// Checkout tries the entries in order, and the servers of an entry in
// order. A server that cannot be reached costs at most
// Options.DialTimeout; a refused connection costs nothing. A triad member
// that is not the master answers -20 or -23 with master=port@host, and the
// client goes to that master next. A server that denies the request (no
// such feature, all in use, ...) sends the client on to the next entry;
// when every entry fails, the error is the first denial, or else the last
// connection error. Checkout honours its context: when it ends, Checkout
// returns an error wrapping ctx.Err() and abandons the connection it was
// using.
//
// # Connections, heartbeats and recovery
//
// The client keeps one connection per vendor daemon and sends every
// checkout of that vendor over it. A reader goroutine matches replies to
// requests, so a server that goes away is noticed at once, even while the
// program is idle. The connection sends HEARTBEAT every
// Options.HeartbeatInterval, which must be shorter than the server's
// timeout.
//
// When the connection is lost, each License on it reports Lost and the
// client checks it out again, from the same server or through the search
// path (a triad's new master), every Options.RetryInterval until it
// succeeds. It offers the license's old handle (CHECKOUT ... handle=H), so
// a server that still holds it reattaches it instead of granting a second
// license. Success reports Regained; a denial (the feature was removed, all
// licenses were taken meanwhile) reports Failed, and the License is then
// gone. Events never blocks the client: a program that does not read them
// loses the oldest news, never its license.
//
// # Waiting in the server's queue
//
// CheckoutQueued asks the server to queue the request when every license
// is in use (FlexLM's LM_CO_QUEUE; CHECKOUT ... queue=1). It returns once
// the server grants it (an unsolicited GRANTED line, protocol §7), or with
// the denial, or when its context ends (the queued request is then
// withdrawn). Options.OnQueued is told the handle it waits under. The
// connection is heartbeated meanwhile; if it is lost, the request is sent
// again with its handle and secret: a triad's new master, which has the
// queue replicated, keeps its place; a server that forgot it queues it
// anew, at the tail (a new handle, told to OnQueued again).
//
// Close checks in every license, closes the connections and stops every
// goroutine of the client.
package client
