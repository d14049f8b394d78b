package matchers

import (
	"fmt"
	"strings"

	"github.com/onsi/gomega/gcustom"
	"github.com/onsi/gomega/types"

	"github.com/vecrosim/vecro/framework/analysis"
)

// MatchSignatureFile compares a Signature with the golden file at path.
// A golden rise or fall must be the same trend in the run (unknown, flat,
// the opposite trend or a missing cell fail: a fault that got weaker must
// not hide in the dead zone), with an effect (a ratio, in goldens older
// than effects) inside the golden band widened by analysis.BandSlack; a golden flat fails when the run rises or falls, and may
// be unknown (the dead zone near a threshold is noise); a golden unknown is
// not asserted. With VECRO_UPDATE_SIGNATURES=N it records the run and
// succeeds, writing the golden once N runs are recorded (see analysis.UpdateEnv).
func MatchSignatureFile(path string) types.GomegaMatcher {
	rep := &report{}
	return gcustom.MakeMatcher(func(sig analysis.Signature) (bool, error) {
		n, err := analysis.UpdateRuns()
		if err != nil {
			return false, err
		}
		if n > 0 {
			text, err := analysis.RecordRun(path, sig, n)
			if err != nil {
				return false, err
			}
			rep.text = text
			return true, nil
		}
		want, err := analysis.ReadSignature(path)
		if err != nil {
			return false, fmt.Errorf("%w (learn it with %s=N, N runs)", err, analysis.UpdateEnv)
		}
		diffs, compared := analysis.Diff(want, sig)
		if compared == 0 {
			return false, fmt.Errorf("signature %s: no (service, family) is decided in the golden file and compared in this run", path)
		}
		if len(diffs) > 0 {
			rep.text = fmt.Sprintf("signature of %s differs from %s in %d of %d compared cells:\n%s\n(if the change is intended, learn the signature again with %s=N)",
				sig.Fault, path, len(diffs), compared, strings.Join(diffs, "\n"), analysis.UpdateEnv)
			return false, nil
		}
		rep.text = fmt.Sprintf("expected signature of %s to differ from %s, but all %d compared cells agree", sig.Fault, path, compared)
		return true, nil
	}).WithTemplate(messageTemplate, rep)
}
