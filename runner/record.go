package runner

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/tenantcheck/tenantcheck/probes"
)

// RecordVersion is the version of the observations file (docs/OBSERVATIONS.md). A reader
// refuses another version rather than misreading it; additions keep the number.
const RecordVersion = 1

// RunInfo is what a report says about a run besides its observations. It is the first line of
// the observations file, so `tenantcheck judge` can rebuild the report `run` wrote.
type RunInfo struct {
	Tool        string `json:"tool"`
	ToolVersion string `json:"toolVersion"`
	Seed        int64  `json:"seed"`
	// Replay is the one-line command that replays the run.
	Replay string `json:"replay"`
	// Target names the target as the report does ("built-in", an endpoint URL, "aws:<region>").
	Target   string    `json:"target"`
	Function string    `json:"function,omitempty"`
	Started  time.Time `json:"started"`
	// Checks are the IDs the run selected: `judge` judges the same ones unless told otherwise.
	Checks []string `json:"checks,omitempty"`
}

// Gap is a part of a run that did not finish (a phase timeout, Ctrl-C, a target that went
// away). The checks of its area may still FAIL on what was seen, but never PASS: a PASS must
// rest on everything the run set out to try.
type Gap struct {
	// Area is the check area the gap weakens (suites.Area*); "" weakens every area.
	Area   string `json:"area,omitempty"`
	Reason string `json:"reason"`
}

// recordLine is one line of the observations file: Kind says which one field is set.
type recordLine struct {
	Kind    string `json:"kind"`
	Version int    `json:"version,omitempty"`

	Run        *RunInfo               `json:"run,omitempty"`
	Begin      *Observations          `json:"begin,omitempty"`
	Invocation *Observation           `json:"invocation,omitempty"`
	Retries    *recordRetries         `json:"retries,omitempty"`
	Contract   *ContractObservations  `json:"contract,omitempty"`
	Lifecycle  *LifecycleObservations `json:"lifecycle,omitempty"`
	Gateway    *GatewayObservations   `json:"gateway,omitempty"`
	Logs       *LogsObservation       `json:"logs,omitempty"`
	S3         *S3Observations        `json:"s3,omitempty"`
	Target     *TargetInfo            `json:"target,omitempty"`
	Gap        *Gap                   `json:"gap,omitempty"`
	End        *recordEnd             `json:"end,omitempty"`
}

// recordRetries are the reports of the retries of one failed Event invocation, collected after
// the errors schedule (its invocation line was written before they arrived); the last retries
// line of a run carries only Summary, so a run cut short later still says how they were
// collected.
type recordRetries struct {
	Seq     int64            `json:"seq,omitempty"`
	Reports []*probes.Report `json:"reports,omitempty"`
	Summary *AsyncRetries    `json:"summary,omitempty"`
}

// recordEnd closes a record: its presence says the run finished writing.
type recordEnd struct {
	Opportunities int           `json:"opportunities"`
	Elapsed       time.Duration `json:"elapsedNs"`
	// ReportElapsed is the report's elapsed time (from the isolation schedules' start to the
	// verdict), kept so a re-judged report shows the same figure.
	ReportElapsed time.Duration `json:"reportElapsedNs"`
	ForgedReports int           `json:"forgedReports,omitempty"`
}

// The kinds of line, in the order a run writes them (invocations may interleave with nothing
// but each other; phases after the isolation schedules follow in any order).
const (
	kindHeader     = "header"
	kindBegin      = "begin"
	kindInvocation = "invocation"
	kindRetries    = "retries"
	kindContract   = "contract"
	kindLifecycle  = "lifecycle"
	kindGateway    = "gateway"
	kindLogs       = "logs"
	kindS3         = "s3"
	kindTarget     = "target"
	kindGap        = "gap"
	kindEnd        = "end"
)

// Record is an observations file being written as the run goes, one JSON object per line, each
// written whole with one write: a run that breaks half-way (a crash, a SIGKILL) leaves every line
// it finished. A nil *Record writes nothing, so callers need not ask whether one was requested.
// Its methods are safe for concurrent use.
type Record struct {
	mu   sync.Mutex
	w    io.Writer
	file *os.File
	err  error
}

// CreateRecord creates (or truncates) path and writes the header line.
func CreateRecord(path string, info RunInfo) (*Record, error) {
	fh, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create observations file: %w", err)
	}
	r := &Record{w: fh, file: fh}
	r.write(recordLine{Kind: kindHeader, Version: RecordVersion, Run: &info})
	if r.err != nil {
		_ = fh.Close()
		return nil, r.err
	}
	return r, nil
}

// NewRecord writes a record to w (a test's buffer, a pipe); Close does not close w.
func NewRecord(w io.Writer, info RunInfo) *Record {
	r := &Record{w: w}
	r.write(recordLine{Kind: kindHeader, Version: RecordVersion, Run: &info})
	return r
}

func (r *Record) write(line recordLine) {
	if r == nil {
		return
	}
	b, err := json.Marshal(line)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return
	}
	if err != nil {
		r.err = fmt.Errorf("encode %s line of the observations file: %w", line.Kind, err)
		return
	}
	if _, err := r.w.Write(append(b, '\n')); err != nil {
		r.err = fmt.Errorf("write observations file: %w", err)
	}
}

// begin records the isolation run's identity and tenants (its Items follow line by line).
func (r *Record) begin(obs *Observations) {
	if r == nil {
		return
	}
	head := *obs
	head.Items = nil
	r.write(recordLine{Kind: kindBegin, Begin: &head})
}

// invocation records one finished invocation of the isolation schedules.
func (r *Record) invocation(ob *Observation) {
	if r == nil {
		return
	}
	c := *ob
	r.write(recordLine{Kind: kindInvocation, Invocation: &c})
}

// retries records the retry reports of invocation seq.
func (r *Record) retries(seq int64, reps []*probes.Report) {
	if r == nil {
		return
	}
	r.write(recordLine{Kind: kindRetries, Retries: &recordRetries{Seq: seq, Reports: reps}})
}

// retrySummary records how the retries were collected, after the last retries line.
func (r *Record) retrySummary(info *AsyncRetries) {
	if r == nil || info == nil {
		return
	}
	r.write(recordLine{Kind: kindRetries, Retries: &recordRetries{Summary: info}})
}

// Lifecycle records the lifecycle phase's result.
func (r *Record) Lifecycle(l *LifecycleObservations) {
	if l != nil {
		r.write(recordLine{Kind: kindLifecycle, Lifecycle: l})
	}
}

// Gateway records the gateway phase's result.
func (r *Record) Gateway(g *GatewayObservations) {
	if g != nil {
		r.write(recordLine{Kind: kindGateway, Gateway: g})
	}
}

// Contract records the contract phase's result.
func (r *Record) Contract(c *ContractObservations) {
	if c != nil {
		r.write(recordLine{Kind: kindContract, Contract: c})
	}
}

// Logs records what the target's log group held for the run.
func (r *Record) Logs(l *LogsObservation) {
	if l != nil {
		r.write(recordLine{Kind: kindLogs, Logs: l})
	}
}

// S3 records the s3 area's phase.
func (r *Record) S3(s *S3Observations) {
	if s != nil {
		r.write(recordLine{Kind: kindS3, S3: s})
	}
}

// Target records what the run learned about the target (its label, declared isolation).
func (r *Record) Target(t TargetInfo) { r.write(recordLine{Kind: kindTarget, Target: &t}) }

// Gap records a part of the run that did not finish.
func (r *Record) Gap(g Gap) { r.write(recordLine{Kind: kindGap, Gap: &g}) }

// End writes the closing line and closes the file; it returns the first error any write met,
// so a full disk is reported instead of leaving a silently short record.
func (r *Record) End(obs *Observations, reportElapsed time.Duration) error {
	if r == nil {
		return nil
	}
	end := &recordEnd{ReportElapsed: reportElapsed}
	if obs != nil {
		end.Opportunities, end.Elapsed, end.ForgedReports = obs.Opportunities, obs.Elapsed, obs.ForgedReports
	}
	r.write(recordLine{Kind: kindEnd, End: end})
	return r.Close()
}

// Close closes the file without an end line (a run that could not finish); safe to call twice.
func (r *Record) Close() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.file != nil {
		if err := r.file.Close(); err != nil && r.err == nil {
			r.err = fmt.Errorf("close observations file: %w", err)
		}
		r.file = nil
	}
	return r.err
}

// Recorded is an observations file read back: the run's record, ready to be judged again.
type Recorded struct {
	Info RunInfo
	Obs  *Observations
	// ReportElapsed is the elapsed time the original report showed (0 when the record has no
	// end line).
	ReportElapsed time.Duration
	// Complete is false when the record has no end line: the run broke before it finished
	// writing (Obs then carries a Gap saying so).
	Complete bool
}

// ReadRecord reads an observations file. A record cut short (the last line half-written, or no
// end line) is still read: what it holds is returned with a Gap, so a re-judged report says the
// run was incomplete instead of passing on part of it. Anything else malformed is an error
// naming the line.
func ReadRecord(in io.Reader) (*Recorded, error) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<20), 256<<20)
	rec := &Recorded{}
	var obs *Observations
	var pending []Observation
	retried := map[int64][]*probes.Report{}
	var retrySummary *AsyncRetries
	var gaps []Gap
	var contract *ContractObservations
	var lifecycle *LifecycleObservations
	var gateway *GatewayObservations
	var logs *LogsObservation
	var s3 *S3Observations
	var target *TargetInfo
	lineNo, truncated := 0, false
	for sc.Scan() {
		lineNo++
		var line recordLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			if !moreLines(sc) {
				truncated = true // the last line, half-written when the run was killed
				break
			}
			return nil, fmt.Errorf("observations file line %d: %w", lineNo, err)
		}
		if lineNo == 1 {
			if line.Kind != kindHeader || line.Run == nil {
				return nil, fmt.Errorf("observations file line 1: %q is not a header: not a tenantcheck observations file", line.Kind)
			}
			if line.Version != RecordVersion {
				return nil, fmt.Errorf("observations file version %d: this tenantcheck reads version %d", line.Version, RecordVersion)
			}
			rec.Info = *line.Run
			continue
		}
		switch line.Kind {
		case kindBegin:
			if line.Begin == nil {
				return nil, fmt.Errorf("observations file line %d: begin line without its record", lineNo)
			}
			obs = line.Begin
		case kindInvocation:
			if line.Invocation == nil {
				return nil, fmt.Errorf("observations file line %d: invocation line without its observation", lineNo)
			}
			pending = append(pending, *line.Invocation)
		case kindRetries:
			switch r := line.Retries; {
			case r == nil:
			case r.Summary != nil:
				retrySummary = r.Summary
			default:
				retried[r.Seq] = r.Reports
			}
		case kindContract:
			contract = line.Contract
		case kindLifecycle:
			lifecycle = line.Lifecycle
		case kindGateway:
			gateway = line.Gateway
		case kindLogs:
			logs = line.Logs
		case kindS3:
			s3 = line.S3
		case kindTarget:
			target = line.Target
		case kindGap:
			if line.Gap != nil {
				gaps = append(gaps, *line.Gap)
			}
		case kindEnd:
			if line.End == nil {
				return nil, fmt.Errorf("observations file line %d: end line without its figures", lineNo)
			}
			rec.Complete = true
			rec.ReportElapsed = line.End.ReportElapsed
			if obs != nil {
				obs.Opportunities, obs.Elapsed, obs.ForgedReports = line.End.Opportunities, line.End.Elapsed, line.End.ForgedReports
			}
		default:
			// A kind added by a newer tenantcheck of the same version: additions keep the
			// version, so an older reader skips what it does not know.
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read observations file: %w", err)
	}
	if lineNo == 0 {
		return nil, errors.New("observations file is empty: not a tenantcheck observations file")
	}
	if obs == nil {
		return nil, errors.New("observations file holds no isolation run (the run stopped before its first schedule)")
	}
	// Invocations are written as they finish; the run numbered them as it issued them.
	slices.SortFunc(pending, func(a, b Observation) int { return int(a.Seq - b.Seq) })
	for i := range pending {
		if r, ok := retried[pending[i].Seq]; ok {
			pending[i].AsyncRetries = r
		}
	}
	obs.Items = pending
	obs.Contract, obs.Lifecycle, obs.Logs, obs.S3, obs.Gateway = contract, lifecycle, logs, s3, gateway
	if target != nil {
		obs.Target = *target
	}
	if obs.Target.AsyncRetries == nil {
		obs.Target.AsyncRetries = retrySummary // the run stopped before its target line
	}
	obs.Incomplete = append(obs.Incomplete, gaps...)
	if !rec.Complete {
		obs.Opportunities = 0
		for _, it := range obs.Items {
			if it.Opportunity {
				obs.Opportunities++
			}
		}
		why := "the observations file ends before the run did (no end line)"
		if truncated {
			why = "the observations file ends in a half-written line"
		}
		obs.Incomplete = append(obs.Incomplete, Gap{Reason: why})
	}
	rec.Obs = obs
	return rec, nil
}

// moreLines reports whether the scanner has another line, consuming it; only used to tell a
// malformed last line (a killed run) from a malformed line in the middle (a damaged file).
func moreLines(sc *bufio.Scanner) bool { return sc.Scan() }
