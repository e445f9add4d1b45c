"""A refresh when new files land (off by default: the daily schedule refreshes)."""

import hashlib

import dagster as dg

from loyalty.landing.loader import content_hash, discover
from loyalty.settings import Settings
from orchestration.defs.jobs import refresh_job


@dg.sensor(job=refresh_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def new_landing_files(context: dg.SensorEvaluationContext, settings: dg.ResourceParam[Settings]):
    """Start a refresh when the landing folder holds files (by content) not seen before."""
    try:
        files, _ = discover(settings.landing_dir)
    except Exception as error:  # a missing landing folder is not a reason to crash the sensor
        return dg.SkipReason(str(error))
    fingerprint = content_hash_of_listing([(file.relative_path, content_hash(file.path)) for file in files])
    if fingerprint == context.cursor:
        return dg.SkipReason("no new landing files")
    context.update_cursor(fingerprint)
    return dg.RunRequest(run_key=fingerprint)


def content_hash_of_listing(entries: list[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    for name, file_hash in sorted(entries):
        digest.update(f"{name}\0{file_hash}\n".encode())
    return digest.hexdigest()
