"""Where each artefact of a run lives in the data bucket (one place, so steps agree)."""

from __future__ import annotations

from shared.models import RunRef

FULL = "full"
#: The sample migration a person signs off before the full load (approval "manual").
SAMPLE = "sample"


def environment(run: RunRef, phase: str) -> str:
    """Which environment a phase writes to: ``sample`` for the sample of a run with a sample environment
    (``RunRef.sample_destination``), else ``target``. Audit entries carry it, so rollback undoes one."""
    return "sample" if phase == SAMPLE and run.sample_destination is not None else "target"


def delta_phase(n: int) -> str:
    return f"delta-{n:03d}"


class Keys:
    """Run-wide keys under ``runs/<id>/``; extraction and level artefacts under the phase's folder
    (the full load at the run's root, the sample under ``sample/``, each delta pass under ``delta/<n>/``)."""

    def __init__(self, run: RunRef, phase: str = FULL) -> None:
        self.p = run.prefix
        self.phase = phase
        if phase == FULL:
            self.q = self.p
        elif phase == SAMPLE:
            self.q = f"{self.p}/sample"
        else:
            self.q = f"{self.p}/delta/{phase.removeprefix('delta-')}"

    source_catalog = property(lambda self: f"{self.p}/discovery/source-catalog.json")
    dest_catalog = property(lambda self: f"{self.p}/discovery/dest-catalog.json")
    spec = property(lambda self: f"{self.p}/spec.json")
    extract_manifest = property(lambda self: f"{self.p}/extract/manifest.json")
    levels = property(lambda self: f"{self.p}/levels.json")
    extract_started = property(lambda self: f"{self.p}/extract/started.json")
    defaults = property(lambda self: f"{self.p}/xwalk-merged/__defaults__.json")
    #: The custom objects and fields this run created (rollback with rollback_schema removes them).
    created_schema = property(lambda self: f"{self.p}/prepare/created-schema.json")
    #: The same for the sample environment, and that environment's crosswalk scope (its instance).
    created_schema_sample = property(lambda self: f"{self.p}/sample/prepare/created-schema.json")
    sample_environment = property(lambda self: f"{self.p}/sample/environment.json")
    #: File content copied source → S3 (``shared.domain.files``), the FetchFiles manifest and outcomes.
    files_prefix = property(lambda self: f"{self.p}/files/")
    files_manifest = property(lambda self: f"{self.p}/files-plan/manifest.json")
    xwalk_merged_prefix = property(lambda self: f"{self.p}/xwalk-merged/")

    proposed_spec = property(lambda self: f"{self.p}/discovery/spec.proposed.json")
    sample_manifest = property(lambda self: f"{self.p}/sample/manifest.json")
    sample_diff = property(lambda self: f"{self.p}/sample/diff.json")

    def report(self, name: str) -> str:
        return f"{self.p}/reports/{name}"

    def extract_batch(self, obj: str, n: int) -> str:
        return f"{self.q}/extract/{obj}/{n:05d}.jsonl"

    def files_outcome(self, item: int) -> str:
        return f"{self.p}/files-plan/outcomes/{item:05d}.json"

    def extract_checkpoint(self, obj: str) -> str:
        return f"{self.q}/extract/checkpoints/{obj}.json"

    def extract_outcome(self, obj: str) -> str:
        return f"{self.q}/extract/outcomes/{obj}.json"

    def level_manifest(self, index: int) -> str:
        return f"{self.q}/levels/{index:02d}/manifest.json"

    def outcome(self, index: int, batch_id: str) -> str:
        return f"{self.q}/levels/{index:02d}/outcomes/{batch_id}.json"

    def outcomes_prefix(self, index: int) -> str:
        return f"{self.q}/levels/{index:02d}/outcomes/"

    def load_ready(self, batch_id: str) -> str:
        return f"{self.p}/load/{batch_id}.jsonl"

    def already_loaded(self, batch_id: str) -> str:
        return f"{self.p}/load/{batch_id}.already.json"

    def existing(self, batch_id: str) -> str:
        return f"{self.p}/load/{batch_id}.existing.json"

    def load_started(self, batch_id: str) -> str:
        return f"{self.p}/load/{batch_id}.started"

    def rejects(self, batch_id: str) -> str:
        return f"{self.p}/rejects/{batch_id}.jsonl"

    def issues(self, batch_id: str) -> str:
        return f"{self.p}/issues/{batch_id}.jsonl"

    def xwalk_part(self, index: int, dest_object: str, batch_id: str) -> str:
        return f"{self.q}/xwalk/{index:02d}/{dest_object}/{batch_id}.json"

    def xwalk_level_prefix(self, index: int) -> str:
        return f"{self.q}/xwalk/{index:02d}/"

    def failure(self, index: int, batch_id: str) -> str:
        return f"{self.q}/levels/{index:02d}/failures/{batch_id}.json"

    def failures_prefix(self, index: int) -> str:
        return f"{self.q}/levels/{index:02d}/failures/"

    def delta_state(self) -> str:
        return f"{self.p}/delta/state.json"

    def delta_events(self, kind: str) -> str:
        return f"{self.q}/{kind}.jsonl"

    def xwalk_merged(self, dest_object: str) -> str:
        """The merged crosswalk snapshot of ``dest_object``: an SQLite file (:mod:`shared.domain.xwalk`)."""
        return f"{self.p}/xwalk-merged/{dest_object}.sqlite"
