// Command lmgrd is the license server manager: it reads license files, joins
// its triad, starts one vendor daemon per VENDOR line and hands every client
// connection on its port to the right one.
package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/notify"
	"github.com/lmtriad/lmtriad/wire"
)

func main() {
	app := &cli.App{
		Name:  "lmgrd",
		Usage: "FlexLM-compatible license server manager",
		UsageText: "lmgrd [-c license_file_list] [-l [+]debug_log_path] [-z] [-local] [-x lmdown] [-x lmremove]\n" +
			"         [-remote-admin none|restricted|full] [-vendor-keys KEYS] [-self HOST] [-state DIR] ...",
		HideHelpCommand: true,
		Version:         wire.Version,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "c", EnvVars: []string{"LM_LICENSE_FILE"}, Usage: "license file, directory or `PATH` list"},
			&cli.StringFlag{Name: "l", Usage: "debug log `FILE` (+FILE appends)"},
			&cli.BoolFlag{Name: "z", Usage: "run in the foreground"},
			&cli.BoolFlag{Name: "local", Usage: "lmdown, lmreread and lmremove only from this host"},
			&cli.StringFlag{Name: "remote-admin", Value: hostid.DefaultRemoteAdmin, Usage: "what admin requests from other hosts without a password get: none (feature totals, no actions), restricted (read everything, no actions) or full; requests from this host are always full", DefaultText: "restricted"},
			&cli.StringFlag{Name: "vendor-keys", Usage: "verify license signatures with the public key `FILE` or the *.pub files of a DIR (lmutil lmkeygen); lines unsigned, tampered with or of a vendor without a key (here or built in) are not served. Never taken from the license directory"},
			&cli.StringSliceFlag{Name: "unsigned", Usage: "serve the licenses of `VENDOR` without checking signatures (repeat it, or a comma list)"},
			&cli.StringSliceFlag{Name: "x", Usage: "disable the `COMMAND` lmdown or lmremove for everyone (repeat for both)"},
			&cli.StringFlag{Name: "self", Usage: "which SERVER line `HOST` this process is"},
			&cli.BoolFlag{Name: "bind-any", Usage: "a triad member listens on every address, not only its SERVER host's"},
			&cli.StringFlag{Name: "http", Usage: "`ADDR` of the HTTP listener (/metrics, /api/v1): default the SERVER host, port 8090; off for none"},
			&cli.StringFlag{Name: "http-cert", Usage: "serve HTTPS with this certificate `FILE` (PEM)"},
			&cli.StringFlag{Name: "http-key", Usage: "the private key `FILE` of -http-cert (PEM)"},
			&cli.StringFlag{Name: "smtp", Usage: "send notifications by mail through the SMTP server `HOST:PORT` (STARTTLS when offered)"},
			&cli.StringFlag{Name: "smtp-ca", Usage: "check the SMTP server's certificate against the CA certificates of `FILE` (PEM) instead of the system's"},
			&cli.StringFlag{Name: "smtp-user", Usage: "authenticate to the SMTP server as `USER` (password from $LMTRIAD_SMTP_PASSWORD)"},
			&cli.StringFlag{Name: "mail-from", Usage: "the sender `ADDR` of notification mails"},
			&cli.StringSliceFlag{Name: "mail-to", Usage: "the recipients `ADDR[,ADDR...]` of notification mails"},
			&cli.StringFlag{Name: "webhook", EnvVars: []string{"LMTRIAD_WEBHOOK"}, Usage: "POST every notification as JSON to `URL` (the environment keeps a token in it out of ps)"},
			&cli.DurationFlag{Name: "notify-isolated", Value: notify.NewRules().IsolatedAfter, Usage: "notify when a triad member is unreachable this long (1m to 60m)"},
			&cli.IntFlag{Name: "notify-expiring", Value: notify.NewRules().ExpiringWithin, Usage: "notify, once a day, of license lines expiring within `DAYS` (1-30)"},
			&cli.IntFlag{Name: "notify-disk", Value: notify.NewRules().DiskPercent, Usage: "notify when the state directory's disk is `PERCENT` full, and at each further percent"},
			&cli.StringFlag{Name: "state", Usage: "`DIR` of a triad member's raft log (default /var/lib/lmtriad/HOST-PORT)"},
			&cli.BoolFlag{Name: "no-fsync", Usage: "write the triad's raft log without waiting for the disk (survives process crashes, not power cuts)"},
			&cli.StringFlag{Name: "cluster-key", EnvVars: []string{"LMTRIAD_CLUSTER_KEY"}, Usage: "the triad's cluster key `FILE` (lmutil lmkeygen -cluster FILE)"},
			&cli.StringFlag{Name: "vendord", EnvVars: []string{"LMTRIAD_VENDORD"}, Usage: "vendor daemon binary `PATH`"},
			&cli.IntFlag{Name: "max-connections", Usage: "client connections per vendor daemon (0: as many as descriptors allow)"},
			&cli.IntFlag{Name: "max-connections-per-host", Usage: "a vendor daemon's client connections one source address may hold (0: half of them; negative: no limit per host)"},
			&cli.DurationFlag{Name: "client-timeout", Value: NewOptions().ClientHeartbeatTimeout, Usage: "free licenses of clients silent this long"},
			// -clock-offset shifts the wall clock this member shows its peers:
			// how tests make a skewed member without changing the machine's clock.
			&cli.DurationFlag{Name: "clock-offset", Hidden: true},
			&cli.DurationFlag{Name: "stats-every", Hidden: true}, // tests: sample usage statistics more often
			&cli.BoolFlag{Name: "man", Usage: "print this manual page (troff) and exit"},
			&cli.BoolFlag{Name: "auto-recycle", Usage: "every day at 00:00 UTC, recycle the seats of named users (USER_BASED, HOST_BASED) unused for 30 days"},
			&cli.DurationFlag{Name: "max-clock-skew", Value: NewOptions().MaxClockSkew, Usage: "keep a triad member whose clock differs more than this out of the quorum"},
		},
		Action: func(c *cli.Context) error {
			if c.Bool("man") {
				page, err := c.App.ToManWithSection(8)
				if err != nil {
					return err
				}
				fmt.Fprint(c.App.Writer, page)
				return nil
			}
			opts := NewOptions()
			opts.LicensePath = c.String("c")
			opts.LogFile = c.String("l")
			opts.Foreground = c.Bool("z")
			opts.LocalOnly = c.Bool("local")
			opts.AutoRecycle = c.Bool("auto-recycle")
			remote, err := hostid.ParseRemoteAdmin(c.String("remote-admin"))
			if err != nil {
				return err
			}
			opts.RemoteAdmin = remote
			if k := c.String("vendor-keys"); k != "" {
				// Absolute: the vendor daemons are started long after, and
				// a detached lmgrd need not keep its directory.
				if opts.VendorKeys, err = filepath.Abs(k); err != nil {
					return err
				}
			}
			for _, v := range c.StringSlice("unsigned") {
				opts.Unsigned = append(opts.Unsigned, strings.Split(v, ",")...)
			}
			opts.Self = c.String("self")
			opts.BindAny = c.Bool("bind-any")
			opts.HTTP, opts.HTTPCert, opts.HTTPKey = c.String("http"), c.String("http-cert"), c.String("http-key")
			opts.SMTP, opts.SMTPUser, opts.SMTPPassword, opts.MailFrom = c.String("smtp"), c.String("smtp-user"), smtpPassword(), c.String("mail-from")
			for _, to := range c.StringSlice("mail-to") {
				opts.MailTo = append(opts.MailTo, strings.Split(to, ",")...)
			}
			opts.Webhook = c.String("webhook")
			opts.StatsEvery = c.Duration("stats-every")
			if ca := c.String("smtp-ca"); ca != "" {
				pem, err := os.ReadFile(ca)
				if err != nil {
					return fmt.Errorf("-smtp-ca: %w", err)
				}
				opts.SMTPCAs = x509.NewCertPool()
				if !opts.SMTPCAs.AppendCertsFromPEM(pem) {
					return fmt.Errorf("-smtp-ca %s: no PEM certificate in it", ca)
				}
			}
			opts.NotifyRules = notify.Rules{IsolatedAfter: c.Duration("notify-isolated"), ExpiringWithin: c.Int("notify-expiring"), DiskPercent: c.Int("notify-disk")}
			opts.ClusterKeyFile = c.String("cluster-key")
			opts.StateDir = c.String("state")
			opts.NoFsync = c.Bool("no-fsync")
			opts.VendordPath = c.String("vendord")
			opts.ClientHeartbeatTimeout = c.Duration("client-timeout")
			opts.MaxConnections = c.Int("max-connections")
			opts.MaxConnectionsPerHost = c.Int("max-connections-per-host")
			opts.MaxClockSkew = c.Duration("max-clock-skew")
			if off := c.Duration("clock-offset"); off != 0 {
				opts.WallClock = func() time.Time { return time.Now().Add(off) }
			}
			for _, x := range c.StringSlice("x") {
				switch x {
				case "lmdown":
					opts.NoDown = true
				case "lmremove":
					opts.NoRemove = true
				default:
					return fmt.Errorf("-x %s: only lmdown and lmremove can be disabled", x)
				}
			}
			if !opts.Foreground {
				return detach(os.Args)
			}
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP) // logrotate, a closed terminal: reopen the log, never stop
			defer signal.Stop(hup)
			opts.Hangups = hup
			opts.Ready = readyReporter()
			return Run(ctx, opts)
		},
	}
	if err := app.RunContext(context.Background(), os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "lmgrd:", err)
		os.Exit(1)
	}
}
