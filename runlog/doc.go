// Package runlog writes and reads the run record: the directory on disk that
// is the truth about a run (DESIGN.md, decision 3). Every frame, event and
// result is appended here first; InfluxDB and reports are made from it.
//
// # Layout
//
// A run lives in <runs>/<run-id>/ (see NewRunID):
//
//	manifest.json   who, what and when (Manifest); rewritten atomically on close
//	protocol.yaml   byte-exact copy of the protocol the run executed
//	rig.yaml        byte-exact copy of the rig config
//	frames/         append-only segment files 00000001.seg, 00000002.seg, ...
//	events.jsonl    one Event per line, in the order they happened; its data is the payload type of its kind (events.go)
//	beats.jsonl     one Beat per line, the detected beats in the order they ended (BeatsFile)
//	result.json     outcome, per-step statistics and criteria (Result); written on close
//	seal.json       the hashes of all of the above, written last at close (Seal)
//	signatures.jsonl  electronic signatures of the seal, appended after it (Signature); not sealed
//	delivery.json   InfluxDB delivery as `mockloop sync` last recorded it (Run.Influx); not sealed
//	lock            flock(2)ed by the process writing the run, until Close (the file stays)
//	reserve         4 MiB held while the run is written, freed by Close (and Recover): a
//	                disk the run filled still takes the result that says "disk full"
//
// manifest.json and result.json are replaced atomically (temporary file,
// fsync, rename, fsync of the directory), so a reader sees either the old or
// the new version, never a mix. Frames and beats are buffered; an event is
// written at once, after the frames buffered before it (nothing on disk is
// ahead of what precedes it: a process killed at any moment leaves no frame
// without the events before it). Everything is made durable (flushed and
// fsynced, events first) when an append finds SyncInterval of the record's
// flush clock passed since the last sync, when Sync is called, and on Close;
// an engine that may go quiet for longer calls Sync from a ticker. A crash
// therefore loses about a second of data at most, and leaves at worst a torn
// record at the end of the last segment or an unfinished last line in
// events.jsonl. Recover closes such runs as "interrupted" and cuts the torn
// tails, keeping everything before them; it is idempotent, and a run it
// closed, even after a kill during --resume or during Recover itself, can be
// resumed (Reopen) again.
//
// Every file of a record is opened without blocking and refused unless it
// is a regular file (OpenFile), and files read whole have a size bound.
//
// # Keys
//
// manifest.json and result.json, and every object they nest, hold every
// key whatever the run (marshalObject): null means "does not apply" or "not
// known" (a criterion without an id, the abort reason of a pass, a run
// without InfluxDB, the end of a running run), a list is [] when empty.
// Both carry schema_version (SchemaVersion, semver: a minor for keys added,
// a major for a key removed or changed), and docs/schemas/ holds their JSON
// Schemas, which tests hold to these types and to real records. Records
// written before 1.0.0 left empty keys out; they read as before (a missing
// key is the zero value); a closed record is never rewritten, its seal
// hashing the bytes it was written with.
//
// # Frame segments
//
// All integers are little-endian. A segment starts with a header:
//
//	offset  size  field
//	0       8     magic "MLFRAMES"
//	8       4     u32 format version (3; 1 and 2 are still read)
//	12      4     u32 L, length of the header JSON
//	16      L     header JSON: {"run_id": "...", "seq": 3, "channels": [{"name": "aop", "unit": "mmHg"}, ...],
//	              "coding": [{"kind": "adc", "lsb": 1.430511474609375e-07, "coeffs": [-1.5, 250]}, {"kind": "int"}, {"kind": "f32"}, ...]}
//	16+L    4     u32 CRC-32C (Castagnoli) of bytes 0 .. 16+L
//
// seq is the segment's number, as in its file name. The number of channels
// in the header is the width W of every frame in the segment; coding (from
// version 3) says, one per channel, how its values map to integer codes
// (ColumnCoding), exactly:
//
//	adc   a converter input: value = daq.Calibration{coeffs}.Apply(code × lsb), the
//	      code being the converter's (24 bits for the ADS131M08, 16 for the ADS1115),
//	      lsb its volts per code, coeffs the calibration polynomial of the run.
//	      Apply rounds each product (no FMA), so the value is the same 64 bits
//	      on every machine: the value read is the value the engine had.
//	int   an integer-valued column (DUT rpm, mA, alarm bits; flags): code = value.
//	f32   any other float column (simulation truth): the value rounded to float32,
//	      the precision of versions 1 and 2, its bits as an int ordered as the
//	      floats are (negative patterns with their 31 low bits inverted).
//
// A value that does not map to a code whose value is its 64 bits (NaN,
// ±Inf, a value off the converter's grid, a recalibration in the run, a
// value float32 cannot hold) is escaped and kept as its 64 bits: nothing
// is ever rounded but what f32 says.
//
// Records follow, one per up to 1024 frames (fewer: the frames appended
// before an event, a flush or a sync), until the end of file:
//
//	size  field
//	4     marker F7 4D 4C 52 ("\xf7MLR"; not in version 1)
//	4     u32 payload length P
//	4     u32 CRC-32C (Castagnoli) of the payload
//	P     payload (version 3):
//	        uvarint  frame count N (1 ≤ N, N × (W+1) ≤ 2^20)
//	        bits     the columns, least significant bit first, zero-padded to a byte:
//	                 the times (ns since the run's epoch, as codes), then each channel's
//
// Each column is coded from its N codes c[0..N-1], in chunks of 64 values
// (the last one shorter), each with a header:
//
//	header   8 bits: predictor p (2 low bits) and Rice parameter k (6 high bits);
//	         from the second chunk on, a 1 bit first says "as the chunk before"
//	         (and no more follows), a 0 bit that the 8 bits follow
//	values   0 and 1 of the record: an escape (below) without the unary prefix:
//	         the residual c[i] − pred(i) as escape 0, or the value's bits
//	value i  from 2 on: the residual r = c[i] − pred(i), zigzagged (0, −1, 1, −2 →
//	         0, 1, 2, 3), Rice-coded: q = r >> k as q one bits and a zero (q < 16),
//	         then the k low bits of r; or 16 one bits and an escape. k = 63 means
//	         every residual of the chunk is 0 and takes no bits (a held column,
//	         the perfectly linear times of a converter's conversions).
//	escape   2 bits: 0: a residual: 7-bit length L, L bits of it zigzagged;
//	         1: the value is math.NaN(); 2: the value's 64 bits follow. An
//	         escaped value's code, for what follows, is the one before it (0
//	         for the first).
//
// pred(0) is 0, pred(1) is c[0], and from i = 2 by p: 0 the previous value,
// c[i−1]; 1 linear, 2c[i−1] − c[i−2]; 2 quadratic, 3c[i−1] − 3c[i−2] +
// c[i−3] (linear at i = 2); 3 the least-squares line through the last 8
// values one step on, (28c[i−1] + 22c[i−2] + 16c[i−3] + 10c[i−4] + 4c[i−5]
// − 2c[i−6] − 8c[i−7] − 14c[i−8]) / 56 truncated (linear while i < 8): it
// averages a noisy converter's noise out. All in wrapping int64
// arithmetic. The writer takes, per chunk, the predictor whose residuals
// sum least and the k that codes them in the fewest bits. Times cost
// next to nothing, a DUT value held between polls about a bit, a 24-bit
// pressure with 0.2 mmHg of noise (5,600 codes) about 15 bits, near its
// entropy.
//
// Versions 1 and 2 code frames as they come, in a payload of
//
//	4      u32 frame count N (N >= 1)
//	8      i64 timestamp of the first frame, ns since the run's epoch
//	4*N    u32 per frame: its timestamp minus the first, in ns
//	4*N*W  f32 values, frame after frame, W per frame, IEEE 754
//
// so P = 12 + N*(4 + 4*W): 82 bytes a frame of the default rig's 19
// channels, where version 3 takes 14.3 in 100-frame records (an event
// every DUT poll ends a record) and 13.6 in full ones
// (TestRecordHoldsWhatTheADCProduced in rig). A record holds at most
// 16 MiB of payload.
//
// A segment is rotated (a new file begun) before a record would take it past
// a size bound, 64 MiB by default. Readers verify every CRC. A missing
// marker, a bad checksum, an impossible length or a record cut short by the
// end of the file is damage (FrameStats): the reader looks for the next
// marker whose record is intact and goes on from there, so damage hides only
// the records it touches (in a version 1 segment, the rest of the segment).
// A bad header hides its segment; a segment whose header names another run,
// another number than its file name (a copy) or another layout is refused
// whole, with a warning in the stats, never read as the run's. A segment file of zero bytes
// (created, nothing written yet) is empty, not damaged. A version 3 record
// whose CRC holds but whose bits do not decode (a writer's bug, or a
// forgery) is damage too ("bad frame coding"). Nothing in a file,
// however corrupt, makes a reader panic.
//
// # Seal
//
// CRC-32C finds damage, not edits: anyone can recompute it. So a closed run
// carries seal.json (Seal): the SHA-256 of every file it wrote —
// manifest.json, protocol.yaml, rig.yaml, the frame segments in sequence,
// events.jsonl, beats.jsonl, result.json — each linked into one chain
// (a file's head hashes the previous head, its name and its hash), and one
// hash over the whole seal (Seal.Sum), the value a signature signs.
// Editing a byte changes a file's hash; deleting, adding, renaming or
// reordering a file changes the set or the chain. For the .jsonl files
// the seal also keeps 4 bytes of each line's hash, so that Verify names
// the line that differs; of a segment that differs, Verify names the record
// whose CRC-32C fails, if one does (a byte changed in it), or says its
// checksums hold (records forged with their checksums, or a replacement).
//
// The hashes are computed from the files at close, not while they are
// written: what is sealed is exactly what readers read, a resumed run's
// seal covers both parts without carrying hash state across the kill, and
// the sampling loop pays nothing per frame. The price is one sequential
// read of the record at close (BenchmarkSeal: 1.26 GB/s from the page
// cache on the 2-core development machine, about 2.6 s for a day at 1 kHz;
// slower on a Pi's SD card) and that an edit made
// while the run was open is sealed with it: the seal certifies the record
// from its close on, and the bench's lock and its file permissions guard
// it before.
//
// The seal is written last, atomically, by Close (sealed_by "close") and
// by the recovery that closes a killed run (sealed_by "recovery", over what
// recovery kept); nothing else seals a closed run again. Records of older
// versions may say sealed_by "sync": sync used to rewrite result.json and
// reseal, which voided every signature and sealed an edit made since the
// close as intact; it now writes delivery.json, outside the seal
// (SetInfluxDelivery). Reopen removes the seal: a run that is open has
// none. A kill between the manifest's and the seal's writes leaves a
// closed run without one, which Verify reports as not sealed. Nothing here
// stops someone from rewriting the files and the seal together: that is
// what signatures of the seal are for.
//
// # Signatures
//
// An electronic signature (Sign; 21 CFR 11.50, 11.70) is an Ed25519
// signature of a Statement: the run id, the seal's hash, the signer's
// printed name, the time (UTC), the meaning (reviewed, approved) and a
// comment. signatures.jsonl holds one per line, appended: a new signature
// never rewrites the others, and a reviewer's and an approver's sit side
// by side. The file is not covered by the seal, and cannot be: signatures
// are made after the seal, of its hash, so sealing them would change the
// hash they sign. It needs no seal: each line is itself signed, and
// removing a line removes a signature, which the report then does not
// show. Verify checks every signature against the record as it is now (the
// hash of its files, not seal.json's claim): an edit after signing,
// resealed or not, invalidates it ("the record changed after it was
// signed"), and a signatures file copied onto another run names the run it
// belongs to. Which keys are trusted is not the record's to say: a key
// carried by a signature proves nothing of who made it, so the caller
// passes the keyring's verdict (Verification.Distrust, package signing).
// Sign refuses a record that is not sealed or fails verification.
//
// # Audit trail
//
// Operator events (KindOperator, OperatorData) are a run's audit trail;
// AuditTrail reads them from its events and Deviations picks the
// departures from the protocol among them. What people do outside runs
// (users added or disabled, zeros, calibrations) goes to the bench audit
// log (AppendBenchLog, ReadBenchLog): JSON lines, each carrying the
// SHA-256 of the line before it, so that a line changed, removed or
// reordered breaks the chain at that line.
//
// # Concurrency
//
// A Record is written by one goroutine, the engine's loop; Sync may be called
// from any other goroutine, e.g. a ticker that keeps the fsync latency out of
// that loop. Readers (Open, List) need no coordination with a writer: they see
// whatever has reached the files, up to the first torn record.
//
// # Imports
//
// Of the project, runlog (the record) imports clock, daq, units,
// internal/durable and internal/flock (its files and its lock) only. It
// never imports rig, reports, protocols or influx: they build on the record.
package runlog
