package reports

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/mockloop/mockloop/runlog"
)

// Summary writes the short end-of-run table: outcome, steps with the mean of
// the key channels, and every criterion with its value, limits and verdict.
// keys names the channels shown per step (those present in the result).
func Summary(w io.Writer, res *runlog.Result, protocol string, keys []string) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	outcome := strings.ToUpper(string(res.Outcome))
	fmt.Fprintf(tw, "run %s  protocol %s  %s\n", res.RunID, protocol, outcome)
	if res.AbortReason != "" {
		fmt.Fprintf(tw, "reason: %s\n", res.AbortReason)
	}
	fmt.Fprintf(tw, "%d frames, %s of run time\n\n", res.Frames, strconv.FormatFloat(res.DurationS, 'f', 1, 64)+" s")

	fmt.Fprint(tw, "STEP\tNAME\tOUTCOME")
	for _, k := range keys {
		fmt.Fprintf(tw, "\t%s", k)
	}
	fmt.Fprintln(tw)
	for _, s := range res.Steps {
		fmt.Fprintf(tw, "%s\t%s\t%s", s.Path, s.Name, s.Outcome)
		for _, k := range keys {
			c, ok := s.Channels[k]
			if !ok || c.N == 0 {
				fmt.Fprint(tw, "\t-")
				continue
			}
			fmt.Fprintf(tw, "\t%s %s", num(c.Mean), c.Unit)
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
				value = num(*c.Value) + " " + c.Unit
			}
			verdict := strings.ToUpper(string(c.Verdict))
			if c.Reason != "" && !c.Pass {
				verdict += " (" + c.Reason + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", id, c.Step, c.Measure, value, c.Limits, verdict)
		}
	}
	return tw.Flush()
}

// num formats a measured value with 4 significant digits, enough to judge
// it against limits written by people, without the noise of float digits.
func num(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
