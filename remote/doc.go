// Package remote is the client of a rig's `mockloop serve` for the
// command line (`mockloop run|runs|report --remote URL`): it queues a run
// on the server's rig (POST /api/runs with the protocol inline), follows
// its queue entry (GET /api/queue/{id}) to the run's end, and downloads
// the run's files (GET /runs/{id}/{file}). The API it talks to is
// serve's, documented in serve/doc.go; the entry it decodes is
// serve.QueueEntry.
//
// Guarantees:
//
//   - Following never changes the run: a client that goes away, is
//     killed or loses the network leaves the run (or its place in the
//     queue) as it is. Only Cancel removes a waiting entry, and nothing
//     here stops a run.
//   - A dropped connection is retried with backoff (1 s doubling to 10 s)
//     for up to Config.Outage of continuous failure (default 10 min);
//     past that the call fails with ErrUnreachable. A POST is never
//     retried: a start sent twice would queue two runs.
//   - Every answer read from the network is bounded (JSON answers 16 MiB,
//     files 512 MiB); a file is written under a temporary name and renamed
//     once whole.
//   - The credential is a bearer token given by the caller (the command
//     reads $MOCKLOOP_API_TOKEN, never a flag). It is never sent in clear
//     off loopback: an http:// URL to another host is refused. TLS checks
//     the server's certificate by its pinned SHA-256 fingerprint (as
//     serve prints it), by a CA file, or else by the system's roots.
package remote
