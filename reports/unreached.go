package reports

// unreachedRows are the criteria table's rows of the protocol's criteria
// the run never judged because it ended early (verdict.Recomputed's
// Unreached), numbered after the judged ones: the auditor sees every
// acceptance criterion set in advance, each without a verdict shown as
// NOT REACHED. None for a run that ended as planned, or whose criteria
// were not judged again from the record.
func (r *Report) unreachedRows(catalogue map[string]bool) []critRow {
	if r.judged == nil || len(r.judged.unreached) == 0 {
		return nil
	}
	rows := criteriaRows(r.judged.unreached, catalogue)
	for i := range rows {
		rows[i].N = len(r.crit) + i + 1
	}
	return rows
}
