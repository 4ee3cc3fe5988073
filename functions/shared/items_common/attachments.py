"""Attachments: an item's `file_content` lives in S3, the item holds only its key (file_key).

Keys are items/<id>/<uuid4 hex>: a fresh key on every write that carries file_content, never
reused, so a replaced attachment cannot race a reader of the old one (the item points at exactly
one immutable object). The object is written BEFORE the row that references it: a failure in
between leaves an unreferenced object (harmless, no row points at it), never a row whose object
does not exist. Objects a PUT replaces or drops stay in the bucket (update_item has no
s3:DeleteObject); a plain-mode DELETE removes the current object; history mode keeps them all,
its versions reference them.

A read can race a delete or a replace: the row read, then the row and its object removed
before the object is read. items.get tells that from a real inconsistency by reading the row
again (may_be_gone): gone, it is a 404; pointing at another object, that one is read. A row that
still references a missing object is a data inconsistency, not a client error: MissingAttachment
propagates and http.handle logs it and answers the generic 500. Without s3:ListBucket, which
get_item does not have, S3 answers a missing key with AccessDenied rather than NoSuchKey, so an
AccessDenied is checked the same way (and, the row unchanged, answered with the same 500).
"""

import uuid

from botocore.exceptions import ClientError

from . import settings
from .aws import s3

PREFIX = "items"
CONTENT_TYPE = "text/plain; charset=utf-8"


class MissingAttachment(RuntimeError):
    """An item references an object that is not in the bucket (logged, answered as a 500)."""


def new_key(item_id: str) -> str:
    """A key no other write has used: items/<id>/<uuid4 hex>."""
    return f"{PREFIX}/{item_id}/{uuid.uuid4().hex}"


def write(key: str, content: str) -> None:
    s3().put_object(
        Bucket=settings.bucket_name(),
        Key=key,
        Body=content.encode("utf-8"),
        ContentType=CONTENT_TYPE,
    )


def read(key: str) -> str:
    """The content stored under `key`, or MissingAttachment."""
    try:
        result = s3().get_object(Bucket=settings.bucket_name(), Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise MissingAttachment(f"attachment {key} is missing from the bucket") from error
        raise
    return result["Body"].read().decode("utf-8")


def may_be_gone(error: Exception) -> bool:
    """Whether a read's error may mean the object was deleted meanwhile: NoSuchKey, or the
    AccessDenied S3 answers a missing key with to a caller without s3:ListBucket."""
    if isinstance(error, MissingAttachment):
        return True
    return isinstance(error, ClientError) and (
        error.response.get("Error", {}).get("Code") == "AccessDenied"
    )


def delete(key: str) -> None:
    """Remove an object (S3 answers success for one that is already gone)."""
    s3().delete_object(Bucket=settings.bucket_name(), Key=key)
