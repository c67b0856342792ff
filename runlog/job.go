package runlog

import "strings"

// maxJobText bounds each string of a Job: they come from the environment
// (or, through serve, a client's request) and go into every report.
const maxJobText = 512

// JobFromEnv is the CI job that runs this process, read with getenv
// (os.Getenv): GitHub Actions (GITHUB_RUN_ID set), GitLab CI (CI_JOB_ID
// set), or any other system that sets MOCKLOOP_JOB_URL; nil outside CI.
// MOCKLOOP_JOB_URL, when set, is the job's URL on any system, for runners
// whose own URL is not the one people follow.
func JobFromEnv(getenv func(string) string) *Job {
	var j Job
	switch {
	case getenv("GITHUB_RUN_ID") != "":
		j = Job{System: "github", ID: getenv("GITHUB_RUN_ID"), Name: getenv("GITHUB_JOB"), Runner: getenv("RUNNER_NAME")}
		if srv, repo := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"); srv != "" && repo != "" {
			j.URL = strings.TrimSuffix(srv, "/") + "/" + repo + "/actions/runs/" + j.ID
		}
	case getenv("CI_JOB_ID") != "":
		j = Job{System: "gitlab", URL: getenv("CI_JOB_URL"), ID: getenv("CI_JOB_ID"), Name: getenv("CI_JOB_NAME"), Runner: getenv("CI_RUNNER_DESCRIPTION")}
	case getenv("MOCKLOOP_JOB_URL") != "":
		j = Job{System: "other"}
	default:
		return nil
	}
	if u := getenv("MOCKLOOP_JOB_URL"); u != "" {
		j.URL = u
	}
	j.Clean()
	return &j
}

// Clean makes j fit for a record: each string valid UTF-8, without
// control characters, at most maxJobText bytes. Whoever fills a Job from
// outside the process (a client's request) cleans it.
func (j *Job) Clean() {
	for _, s := range []*string{&j.System, &j.URL, &j.ID, &j.Name, &j.Runner} {
		*s = cleanText(*s)
	}
}

// cleanText is s as Clean keeps it.
func cleanText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) <= maxJobText {
		return s
	}
	cut := maxJobText
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// isRuneStart reports whether b begins a UTF-8 encoded rune.
func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
