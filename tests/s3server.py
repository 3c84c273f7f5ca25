"""A real S3-compatible server of a test's own: moto's ``moto_server`` on a free
port, in its own process (offline, in memory), started and stopped by PID.
The app reaches it through ``MEDIA_STORAGE_URL`` as it would reach any bucket."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3

from chatapp.bench.procs import free_port, stop_process

MOTO_SERVER = str(Path(sys.executable).with_name("moto_server"))
START_TIMEOUT = 30.0
REGION = "us-east-1"
# moto takes any credentials; boto3 still wants some to sign with.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "chatapp-test", "AWS_SECRET_ACCESS_KEY": "chatapp-test-secret"}


class S3Server:
    def __init__(self, log_path: Path, address: str = "127.0.0.1", port: int | None = None):
        self.log_path = log_path
        self.address = address
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.address}:{self.port}"

    def storage_url(self, bucket: str, prefix: str = "") -> str:
        """The MEDIA_STORAGE_URL of ``bucket`` on this server."""
        path = f"/{prefix}" if prefix else ""
        return (
            f"s3://{bucket}{path}?endpoint_url={self.endpoint}"
            f"&region_name={REGION}&addressing_style=path"
        )

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [MOTO_SERVER, "-H", self.address, "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self._accepts():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"moto_server did not start:\n{self.log_path.read_text()}")
            time.sleep(0.1)

    def _accepts(self) -> bool:
        try:
            with socket.create_connection((self.address, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def keys(self, bucket: str) -> list[str]:
        listing = self.client().list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def read(self, bucket: str, key: str) -> bytes:
        return bytes(self.client().get_object(Bucket=bucket, Key=key)["Body"].read())
