"""A real S3 HTTP endpoint on 127.0.0.1 for the tests and benchmarks: moto's
standalone server, in this process, with one empty private bucket.

moto keeps objects in memory and accepts any credentials; pagesite's S3
storage talks to it through boto3 exactly as to AWS, MinIO or R2."""

import os
import socket


def start(bucket, access_key="local-access-key", secret_key="local-secret-key"):
    """Start the server with ``bucket`` created; (server, endpoint URL, boto3 client).

    Sets the standard ``AWS_*`` variables, which pagesite's processes inherit."""
    import boto3
    from moto.server import ThreadedMotoServer

    os.environ.update(AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY=secret_key,
                      AWS_DEFAULT_REGION="us-east-1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    return server, endpoint, client
