package runlog

import (
	"strings"
	"testing"
)

func TestJobFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want *Job
	}{
		{"none", map[string]string{"CI": "true", "RUNNER_NAME": "r1"}, nil},
		{"github", map[string]string{"GITHUB_SERVER_URL": "https://github.com/", "GITHUB_REPOSITORY": "lab/pump", "GITHUB_RUN_ID": "991", "GITHUB_JOB": "overnight", "RUNNER_NAME": "rig-2"},
			&Job{System: "github", URL: "https://github.com/lab/pump/actions/runs/991", ID: "991", Name: "overnight", Runner: "rig-2"}},
		{"github without server", map[string]string{"GITHUB_RUN_ID": "991"}, &Job{System: "github", ID: "991"}},
		{"gitlab", map[string]string{"CI_JOB_URL": "https://gl/lab/pump/-/jobs/7", "CI_JOB_ID": "7", "CI_JOB_NAME": "hil", "CI_RUNNER_DESCRIPTION": "rig-1 runner"},
			&Job{System: "gitlab", URL: "https://gl/lab/pump/-/jobs/7", ID: "7", Name: "hil", Runner: "rig-1 runner"}},
		{"other", map[string]string{"MOCKLOOP_JOB_URL": "https://jenkins/job/4/"}, &Job{System: "other", URL: "https://jenkins/job/4/"}},
		{"url overrides", map[string]string{"CI_JOB_ID": "7", "CI_JOB_URL": "http://internal/7", "MOCKLOOP_JOB_URL": "https://public/7"}, &Job{System: "gitlab", URL: "https://public/7", ID: "7"}},
		{"cleaned", map[string]string{"CI_JOB_ID": "7\n\x1b[2J", "CI_JOB_NAME": strings.Repeat("é", 400)}, &Job{System: "gitlab", ID: "7[2J", Name: strings.Repeat("é", 256)}},
	} {
		got := JobFromEnv(func(k string) string { return tc.env[k] })
		if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
