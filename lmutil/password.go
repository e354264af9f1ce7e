package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/lmtriad/lmtriad/adminauth"
	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/wire"
)

// Administrator passwords, lmutil's side (docs/security.md). An admin
// command proves a password when it has one: from -password-file FILE,
// else from LM_ADMIN_PASSWORD, else, on a terminal, from a prompt once a
// server has refused the command for want of it. The password never
// crosses the network (adminauth: SCRAM-SHA-256); it is tried as the full
// password first, then as the restricted one.

// passwordEnv is the variable an admin password may come from.
const passwordEnv = "LM_ADMIN_PASSWORD"

// passwordFileFlag is every admin command's -password-file (a new flag for
// each app: cli flags keep state).
func passwordFileFlag() cli.Flag {
	return &cli.StringFlag{Name: "password-file", Usage: "read the administrator password from the first line of `FILE`"}
}

// adminLogin is one lmutil run's administrator password.
type adminLogin struct {
	mu       sync.Mutex
	password string
	client   *adminauth.Client
	level    string // the level the password proved first: tried first next time
	// prompt asks for a password on the terminal; nil when there is none.
	prompt func(question string) (string, error)
}

type loginKey struct{}

func loginFrom(ctx context.Context) *adminLogin {
	l, _ := ctx.Value(loginKey{}).(*adminLogin)
	return l
}

// withAdminLogin is the Before of admin commands: it finds the password.
func withAdminLogin(env *environment) cli.BeforeFunc {
	return func(c *cli.Context) error {
		l := &adminLogin{prompt: env.terminalPrompt()}
		if path := c.String("password-file"); path != "" {
			pw, err := readPasswordFile(path)
			if err != nil {
				return cli.Exit(fmt.Sprintf("%s: -password-file: %v", c.Command.Name, err), 1)
			}
			l.use(pw)
		} else if pw := env.getenv(passwordEnv); pw != "" {
			l.use(pw)
		}
		if c.Context == nil {
			c.Context = context.Background()
		}
		c.Context = context.WithValue(c.Context, loginKey{}, l)
		return nil
	}
}

func (l *adminLogin) use(password string) {
	l.password, l.client = password, adminauth.NewClient(password)
}

// current is the password client to prove with (nil: none).
func (l *adminLogin) current() *adminauth.Client {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.client
}

func (l *adminLogin) proved() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.level
}

func (l *adminLogin) remember(level string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.level == "" {
		l.level = level
	}
}

// ask prompts for the password once, on a terminal, after a server at hp
// refused a command for want of it. It reports whether there is one now.
func (l *adminLogin) ask(hp licfile.HostPort) bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.client != nil || l.prompt == nil {
		return false
	}
	prompt := l.prompt
	l.prompt = nil // once a run
	pw, err := prompt(fmt.Sprintf("Administrator password for %d@%s: ", hp.Port, hp.Host))
	if err != nil || pw == "" {
		return false
	}
	l.use(pw)
	return true
}

// terminalPrompt reads a password without echo from the terminal on
// standard input; nil when standard input is not a terminal.
func (e *environment) terminalPrompt() func(string) (string, error) {
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func(question string) (string, error) {
		fmt.Fprint(os.Stderr, question)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(os.Stderr)
		return string(b), err
	}
}

// readPasswordFile reads the first line of path. The file must not be
// readable by others: it holds a secret.
func readPasswordFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s can be read or written by others (mode %v): chmod 600 %s", path, st.Mode().Perm(), path)
	}
	line, err := bufio.NewReader(io.LimitReader(f, adminauth.MaxPasswordLength+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("%s: the first line is empty", path)
	}
	return line, nil
}

// adminDial connects to hp and greets it with hello, first proving the
// run's administrator password when there is one.
func adminDial(ctx context.Context, hp licfile.HostPort, hello wire.Message) (*wire.Conn, wire.Message, error) {
	var d net.Dialer
	l := loginFrom(ctx)
	cl := l.current()
	if cl == nil {
		return wire.Dial(ctx, &d, addr(hp), hello, adminTimeout)
	}
	levels := []string{adminauth.LevelFull, adminauth.LevelRestricted}
	if l.proved() == adminauth.LevelRestricted {
		levels = []string{adminauth.LevelRestricted, adminauth.LevelFull}
	}
	var lastErr error
	for _, level := range levels {
		c, reply, err := dialProving(ctx, hp, hello, cl, level)
		if err == nil {
			l.remember(level)
			return c, reply, nil
		}
		var we *wire.Error
		if !errors.As(err, &we) || we.Code != wire.CodeNotLicAdmin || we.Minor != minorPasswordRefused {
			return nil, reply, err
		}
		lastErr = err
	}
	if lastErr != nil {
		// Say what was tried, not just the last level's answer.
		lastErr = wire.NewError(wire.CodeNotLicAdmin, minorPasswordRefused).
			WithDetail("the administrator password is neither the full nor the restricted password of " + addr(hp))
	}
	return nil, wire.Message{}, lastErr
}

// minorPasswordRefused is lmgrd's minor code for a password that is not
// set or does not match (lmgrd/passwords.go).
const minorPasswordRefused = 6

func dialProving(ctx context.Context, hp licfile.HostPort, hello wire.Message, cl *adminauth.Client, level string) (*wire.Conn, wire.Message, error) {
	ex, first, err := cl.Begin(level)
	if err != nil {
		return nil, wire.Message{}, err
	}
	start := hello.Clone()
	start.Set("auth", adminauth.Mechanism)
	start.Set("data", adminauth.Encode([]byte(first)))
	var d net.Dialer
	c, reply, err := wire.Dial(ctx, &d, addr(hp), start, adminTimeout)
	if err != nil {
		return nil, reply, err
	}
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	fail := func(err error) (*wire.Conn, wire.Message, error) {
		c.Close()
		return nil, wire.Message{}, err
	}
	serverFirst, err := adminauth.Decode(reply.Get("data"))
	if err != nil {
		return fail(fmt.Errorf("%d@%s: %w", hp.Port, hp.Host, err))
	}
	proof, err := ex.Answer(string(serverFirst))
	if err != nil {
		return fail(fmt.Errorf("%d@%s: %w", hp.Port, hp.Host, err))
	}
	resp, _, err := c.Call(ctx, wire.New("AUTH", "data", adminauth.Encode([]byte(proof))))
	if err != nil {
		return fail(err)
	}
	serverFinal, err := adminauth.Decode(resp.Get("data"))
	if err == nil {
		err = ex.Verify(string(serverFinal))
	}
	if err != nil {
		return fail(fmt.Errorf("%d@%s: %w", hp.Port, hp.Host, err))
	}
	reply, _, err = c.Call(ctx, hello)
	if err != nil {
		return fail(err)
	}
	return c, reply, nil
}

// needsPassword reports whether err is a refusal that the full password
// would lift.
func needsPassword(err error) bool {
	var we *wire.Error
	return errors.As(err, &we) && we.Code == wire.CodeNotLicAdmin && we.Minor == hostid.MinorNeedsFull
}

func lmpasswdCommand(env *environment) *cli.Command {
	return &cli.Command{
		Name:  "lmpasswd",
		Usage: "set the full or restricted administrator password of a license server system (all members of a triad)",
		UsageText: "lmpasswd -c port@host -full|-restricted [-remove] [-password-file FILE]\n" +
			"   The new password is read from a prompt, or from the first line of standard input when it is not a terminal.\n" +
			"   Setting a password needs full access: from the server's host, or with the full password.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "c", Usage: "license `PATH`"},
			&cli.BoolFlag{Name: "full", Usage: "set the full password (lmdown, lmremove, lmreread, lmenroll, lmpasswd)"},
			&cli.BoolFlag{Name: "restricted", Usage: "set the restricted password (read everything, change nothing)"},
			&cli.BoolFlag{Name: "remove", Usage: "remove the password instead of setting it"},
			passwordFileFlag(),
			&cli.IntFlag{Name: "iterations", Value: adminauth.DefaultIterations, Hidden: true},
		},
		Before: withAdminLogin(env),
		Action: func(c *cli.Context) error {
			if c.Bool("full") == c.Bool("restricted") {
				return cli.Exit("lmpasswd: say -full or -restricted", 1)
			}
			level := adminauth.LevelFull
			if c.Bool("restricted") {
				level = adminauth.LevelRestricted
			}
			t, err := resolveTarget(c.String("c"), env.getenv)
			if err != nil {
				return err
			}
			req := wire.New("PASSWD", "level", level)
			if c.Bool("remove") {
				req.Set("remove", "1")
			} else {
				pw, err := env.newPassword(level)
				if err != nil {
					return cli.Exit("lmpasswd: "+err.Error(), 1)
				}
				cred, err := adminauth.NewCredential(level, pw, c.Int("iterations"))
				if err != nil {
					return cli.Exit("lmpasswd: "+err.Error(), 1)
				}
				req.Set("salt", adminauth.Encode(cred.Salt))
				req.Set("iters", fmt.Sprint(cred.Iters))
				req.Set("stored", adminauth.Encode(cred.Stored))
				req.Set("server", adminauth.Encode(cred.Server))
			}
			var failed []string
			for _, hp := range t.servers {
				_, _, err := adminCall(c.Context, hp, "", req)
				if err != nil {
					var we *wire.Error
					if errors.As(err, &we) && we.Code != wire.CodeCantConnect && we.Code != wire.CodeServBusy {
						return cli.Exit(fmt.Sprintf("lmpasswd: %d@%s: %v", hp.Port, hp.Host, err), 1)
					}
					failed = append(failed, fmt.Sprintf("%d@%s: %v", hp.Port, hp.Host, err))
					continue
				}
				what := "set"
				if c.Bool("remove") {
					what = "removed"
				}
				fmt.Fprintf(c.App.Writer, "lmpasswd: the %s password is %s on %d@%s", level, what, hp.Port, hp.Host)
				if len(t.servers) == 3 {
					fmt.Fprint(c.App.Writer, " and its triad")
				}
				fmt.Fprintln(c.App.Writer)
				return nil
			}
			return cli.Exit("lmpasswd: "+strings.Join(failed, "; "), 1)
		},
	}
}

// newPassword reads the password lmpasswd sets: twice from a prompt on a
// terminal, else the first line of standard input.
func (e *environment) newPassword(level string) (string, error) {
	if prompt := e.terminalPrompt(); prompt != nil {
		pw, err := prompt("New " + level + " password: ")
		if err != nil {
			return "", err
		}
		again, err := prompt("Again: ")
		if err != nil {
			return "", err
		}
		if pw != again {
			return "", errors.New("the two passwords differ")
		}
		return pw, adminauth.CheckPassword(pw)
	}
	line, err := bufio.NewReader(io.LimitReader(e.stdin, adminauth.MaxPasswordLength+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	return pw, adminauth.CheckPassword(pw)
}
