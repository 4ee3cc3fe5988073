"""tools/deploy/cli.py's decisions, one by one, on moto in-process."""

import boto3
import pytest
from moto import mock_aws

from tools.deploy import cli as deploy


@pytest.mark.parametrize("region", ["us-west-2", "us-east-1"])
def test_the_artifact_bucket_is_created_locked_down_in_any_region(aws_env, region):
    with mock_aws():
        s3 = boto3.client("s3", region_name=region)
        assert deploy.ensure_bucket(s3, "artifacts-bucket", region) is True
        assert deploy.ensure_bucket(s3, "artifacts-bucket", region) is False  # exists: kept
        assert s3.get_bucket_versioning(Bucket="artifacts-bucket")["Status"] == "Enabled"
        block = s3.get_public_access_block(Bucket="artifacts-bucket")
        assert all(block["PublicAccessBlockConfiguration"].values())
        rules = s3.get_bucket_encryption(Bucket="artifacts-bucket")[
            "ServerSideEncryptionConfiguration"
        ]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        location = s3.get_bucket_location(Bucket="artifacts-bucket")["LocationConstraint"]
        assert (location or "us-east-1") == region
