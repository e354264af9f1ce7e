// Package chaos is the triad's chaos suite: it runs three real lmgrd
// processes in network namespaces of its own, drives hundreds of clients
// against them while a seeded nemesis kills, restarts, isolates and
// partitions the members, and checks the history the clients observed.
//
// The pieces, each in its own file:
//
//   - netns.go: the private network (namespaces lmc-<pid>-br/a/b/c/cl, a
//     bridge, veths, 10.213.N.0/24) and the faults it can inject.
//   - cluster.go: the three members as processes inside their namespaces.
//   - workload.go: the clients; run as its own process inside the client
//     namespace ("lmchaos workload"), writing JSON lines.
//   - nemesis.go: the seeded fault schedule and the quorum timeline.
//   - rogue.go: the rogue peer ("lmchaos rogue", run in a member's
//     namespace without the cluster key) and check (d) over what the rogue
//     faults left: the members' refusals, what came back, the impostor.
//   - crash.go: the kill-all fault (the whole triad SIGKILLed at once,
//     restarted on its state directories) and check (e) over what it left:
//     the first master's takeover line, the clients' handles.
//   - enrol.go: the enrol-partition fault (a change of the license files
//     enrolled on the majority side while one member is cut off, sometimes
//     with a conflicting hand edit there) and check (f) over what it left:
//     the members' license directories, the new feature served.
//   - history.go: the history's records and how they are read and written.
//   - check.go: the checks (a)-(c) over a history (pure; unit-tested on hand-made
//     histories).
//   - run.go: Run ties it together and returns a Report.
//
// docs/chaos.md describes the design and the exact rule of every check.
package chaos
