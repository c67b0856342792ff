package reports

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/mockloop/mockloop/internal/termtext"
	"github.com/mockloop/mockloop/runlog"
)

// Summary writes the short end-of-run table: outcome, steps with the mean of
// the key channels, and every criterion with its value, limits and verdict.
// keys names the channels shown per step (those present in the result).
// Every text of the protocol and the record is escaped (termtext.Escape):
// it goes to a terminal, where a step name's ESC or newline could rewrite
// the table.
func Summary(w io.Writer, res *runlog.Result, protocol string, keys []string) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	e := termtext.Escape
	outcome := strings.ToUpper(string(res.Outcome))
	fmt.Fprintf(tw, "run %s  protocol %s  %s\n", e(res.RunID), e(protocol), e(outcome))
	if res.AbortReason != "" {
		fmt.Fprintf(tw, "reason: %s\n", e(res.AbortReason))
	}
	fmt.Fprintf(tw, "%d frames, %s of run time\n\n", res.Frames, strconv.FormatFloat(res.DurationS, 'f', 1, 64)+" s")

	fmt.Fprint(tw, "STEP\tNAME\tOUTCOME")
	for _, k := range keys {
		fmt.Fprintf(tw, "\t%s", e(k))
	}
	fmt.Fprintln(tw)
	for _, s := range res.Steps {
		fmt.Fprintf(tw, "%s\t%s\t%s", e(s.Path), e(s.Name), e(string(s.Outcome)))
		for _, k := range keys {
			c, ok := s.Channels[k]
			if !ok || c.N == 0 {
				fmt.Fprint(tw, "\t-")
				continue
			}
			fmt.Fprintf(tw, "\t%s %s", num(c.Mean), e(c.Unit))
		}
		fmt.Fprintln(tw)
	}
	if len(res.Criteria) > 0 {
		fmt.Fprint(tw, "\nCRITERION\tSTEP\tMEASURE\tVALUE\tLIMITS\tVERDICT\n")
		for _, c := range res.Criteria {
			id := c.ID
			if id == "" {
				id = c.Name
			}
			if id == "" {
				id = "-"
			}
			value := "-"
			if c.Value != nil {
				value = num(*c.Value) + " " + e(c.Unit)
			}
			verdict := strings.ToUpper(string(c.Verdict))
			if c.Reason != "" && !c.Pass {
				verdict += " (" + c.Reason + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e(id), e(c.Step), e(c.Measure), value, e(c.Limits), e(verdict))
		}
	}
	return tw.Flush()
}

// num formats a measured value with 4 significant digits, enough to judge
// it against limits written by people, without the noise of float digits.
func num(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
