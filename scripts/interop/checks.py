"""A tally of named checks for the scripted checks: prints each as it runs, then a summary line and the exit."""
import sys


class Checks:
    def __init__(self):
        self.results = []

    def __call__(self, name, condition, detail=""):
        self.results.append(bool(condition))
        print(f"{'ok' if condition else 'FAILED'}: {name}" + ("" if condition else f" -- {detail}"), flush=True)

    def finish(self, label):
        """Prints `label: N passed, N failed` and exits non-zero on any failure."""
        passed = sum(self.results)
        failed = len(self.results) - passed
        print(f"{label}: {passed} passed, {failed} failed")
        sys.exit(1 if failed else 0)
