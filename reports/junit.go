package reports

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jstemmer/go-junit-report/v2/junit"
)

// junitSuite is the single testsuite name CI dashboards group tenantcheck results under.
const junitSuite = "tenantcheck"

// WriteJUnit renders the report as JUnit XML so CI systems that already show test results
// (Jenkins, GitLab, GitHub test reporters) show conformance checks without a plugin.
//
// Mapping: FAIL -> <failure>; ERROR and INCONCLUSIVE -> <error> (type says which), because
// neither proved a violation; SKIP -> <skipped>; WARN passes with the warning in <system-out>,
// because a SHOULD violation must not turn a CI run red. Testcases are sorted by name.
func WriteJUnit(w io.Writer, r *Report) error {
	if r == nil {
		return fmt.Errorf("write junit: nil report")
	}
	suite := junit.Testsuite{
		Name: junitSuite,
		Time: seconds(r.Elapsed),
	}
	if !r.Started.IsZero() {
		suite.SetTimestamp(r.Started.UTC())
	}
	suite.AddProperty("seed", strconv.FormatInt(r.Seed, 10))
	suite.AddProperty("runId", xmlSafe(r.RunID))
	suite.AddProperty("target", xmlSafe(r.Target))
	if r.Function != "" {
		suite.AddProperty("function", xmlSafe(r.Function))
	}
	if r.ToolVersion != "" {
		suite.AddProperty("toolVersion", xmlSafe(r.ToolVersion))
	}
	suite.AddProperty("verdict", string(r.Summary.Verdict))
	if r.Replay != "" {
		suite.AddProperty("replay", xmlSafe(r.Replay))
	}

	cases := make([]junit.Testcase, 0, len(r.Checks))
	for _, c := range r.Checks {
		cases = append(cases, testcase(c))
	}
	sort.SliceStable(cases, func(i, j int) bool { return cases[i].Name < cases[j].Name })
	for _, tc := range cases {
		suite.AddTestcase(tc)
	}

	var doc junit.Testsuites
	doc.Name = junitSuite
	doc.Time = suite.Time
	doc.AddSuite(suite)
	if err := doc.WriteXML(w); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	return nil
}

func testcase(c CheckResult) junit.Testcase {
	tc := junit.Testcase{
		Name:      xmlSafe(c.ID + " " + c.Title),
		Classname: xmlSafe(c.Area),
		Time:      seconds(c.Duration),
	}
	body := xmlSafe(caseBody(c))
	msg := xmlSafe(c.Reason)
	switch c.Status {
	case Fail:
		tc.Failure = &junit.Result{Message: msg, Type: string(c.Status), Data: body}
	case Error, Inconclusive:
		tc.Error = &junit.Result{Message: msg, Type: string(c.Status), Data: body}
	case Skip:
		tc.Skipped = &junit.Result{Message: msg}
	case Warn:
		tc.SystemOut = &junit.Output{Data: xmlSafe(fmt.Sprintf("WARN (%s %s): %s\n", c.Level, c.Clause, c.Reason)) + body}
	}
	return tc
}

// caseBody is the text a CI viewer shows under a non-passing testcase.
func caseBody(c CheckResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "clause %s (%s, severity %s)\n", c.Clause, c.Level, c.Severity)
	if c.Remediation != "" {
		fmt.Fprintf(&b, "remediation: %s\n", c.Remediation)
	}
	b.WriteString(evidenceText(c.Evidence, ""))
	return b.String()
}

func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}

// xmlSafe drops what XML 1.0 cannot carry at all (most control characters), which encoding/xml
// does not filter inside CDATA; without it a hostile canary could make the whole file unreadable.
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20 || r == 0xFFFE || r == 0xFFFF || (r >= 0xD800 && r <= 0xDFFF):
			return '\uFFFD'
		}
		return r
	}, s)
}
