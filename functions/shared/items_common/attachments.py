"""Attachments: an item's `file_content` lives in S3, the item holds only its key (file_key).

The key scheme: items/<id>/<uuid4 hex>, a fresh key on every write that carries file_content,
never reused, so a replaced attachment cannot race a reader of the old one (the item points at
exactly one immutable object, which only ever has one version).

Pending until committed (#16 item 9: no object stays that no item references):

- Write order: the object is written BEFORE the row that references it, so a row never points
  at an object that was not written. Every new object is written tagged `attachment=pending`
  (TAG_KEY=PENDING; the writers need s3:PutObjectTagging for that).
- A bucket lifecycle rule (templates/data.py, the same tag under items/) expires a current
  version still tagged pending PENDING_DAYS (7) after it was written; the noncurrent-version
  rule removes it 90 days later. So the object of a write that failed or was refused after its
  upload (409, 412, 404, a DynamoDB error, a function that died in between) expires on its own:
  no row references it and nothing ever commits it.
- Committed by the stream consumer: when the table's stream shows a row whose file_key is new
  (INSERT, or a MODIFY that changed it), stream_audit removes the object's tags (commit,
  DeleteObjectTagging; items_common.upkeep). A committed object never expires.
- Deleted by whoever drops the last reference, in plain mode only: a plain-mode DELETE removes
  the object at once, best effort (discard: a failure is logged, the answer stays 204); and the
  stream consumer deletes every object an old image referenced that its new image does not (a
  MODIFY that replaced or dropped the attachment, a REMOVE), so one the DELETE could not remove
  goes too. History mode never deletes an object: its version rows reference them all.

Failure modes: the stream consumer retries a record it cannot handle (partial batch response,
bisect, retries; items_common.upkeep), then parks the batch's description in the failure queue,
and the alarms on its errors, its iterator age and that queue fire. An object it could not
commit for PENDING_DAYS expires: its row then references a noncurrent version, GET answers 500
for that item (MissingAttachment), and for 90 days an operator can bring it back (delete the
delete marker, remove the tag). The stream keeps records 24 h, so the alarms fire days before.
Deleting is at least once: a replay deletes an object again, which S3 answers with success.

A read can race a delete or a replace: the row read, then the row and its object removed
before the object is read. items.get tells that from a real inconsistency by reading the row
again (may_be_gone): gone, it is a 404; pointing at another object, that one is read. A row that
still references a missing object is a data inconsistency, not a client error: MissingAttachment
propagates and http.handle logs it and answers the generic 500. Without s3:ListBucket, which
get_item does not have, S3 answers a missing key with AccessDenied rather than NoSuchKey, so an
AccessDenied is checked the same way (and, the row unchanged, answered with the same 500). A
pending tag does not matter to a read.
"""

import uuid

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from . import settings
from .aws import error_code, s3

PREFIX = "items"
CONTENT_TYPE = "text/plain; charset=utf-8"
# The tag of an object no committed row references yet; templates/data.py's lifecycle rule
# (PENDING_TAG there) expires current versions that still carry it.
TAG_KEY = "attachment"
PENDING = "pending"
# What S3 may answer for an object that is not there (any more): NoSuchKey; MethodNotAllowed
# when its current version is a delete marker; AccessDenied to a caller without s3:ListBucket.
_ABSENT = frozenset({"NoSuchKey", "404", "MethodNotAllowed", "405", "AccessDenied", "403"})

logger = Logger(child=True)


class MissingAttachment(RuntimeError):
    """An item references an object that is not in the bucket (logged, answered as a 500)."""


def new_key(item_id: str) -> str:
    """A key no other write has used: items/<id>/<uuid4 hex>."""
    return f"{PREFIX}/{item_id}/{uuid.uuid4().hex}"


def write(key: str, content: str) -> None:
    """A new object, tagged pending until the stream consumer commits it (module docstring)."""
    s3().put_object(
        Bucket=settings.bucket_name(),
        Key=key,
        Body=content.encode("utf-8"),
        ContentType=CONTENT_TYPE,
        Tagging=f"{TAG_KEY}={PENDING}",
    )


def commit(key: str) -> None:
    """Remove the pending tag, so the lifecycle rule never expires the object (idempotent).
    MissingAttachment when S3 answers as for an object that is not there (_ABSENT: which also
    covers a refused permission, so the caller decides, upkeep.py)."""
    try:
        s3().delete_object_tagging(Bucket=settings.bucket_name(), Key=key)
    except ClientError as error:
        if error_code(error) in _ABSENT:
            raise MissingAttachment(f"attachment {key} cannot be committed") from error
        raise


def owned(key: object, item_id: object) -> bool:
    """Whether `key` is an attachment key of this item (items/<id>/<one segment>, as new_key
    makes them): the only objects the stream consumer may commit or delete for a row of it."""
    if not isinstance(key, str) or not isinstance(item_id, str):
        return False
    prefix = f"{PREFIX}/{item_id}/"
    rest = key[len(prefix) :]
    return key.startswith(prefix) and rest != "" and "/" not in rest


def read(key: str) -> str:
    """The content stored under `key`, or MissingAttachment."""
    try:
        result = s3().get_object(Bucket=settings.bucket_name(), Key=key)
    except ClientError as error:
        if error_code(error) in ("NoSuchKey", "404"):
            raise MissingAttachment(f"attachment {key} is missing from the bucket") from error
        raise
    return result["Body"].read().decode("utf-8")


def may_be_gone(error: Exception) -> bool:
    """Whether a read's error may mean the object was deleted meanwhile: NoSuchKey, or the
    AccessDenied S3 answers a missing key with to a caller without s3:ListBucket."""
    if isinstance(error, MissingAttachment):
        return True
    return isinstance(error, ClientError) and error_code(error) == "AccessDenied"


def delete(key: str) -> None:
    """Remove an object (S3 answers success for one that is already gone)."""
    s3().delete_object(Bucket=settings.bucket_name(), Key=key)


def discard(key: str) -> bool:
    """delete(key), best effort: any failure is logged as a warning with the key and returns
    False. For a caller whose row is already gone (a plain-mode DELETE): the stream consumer
    deletes the object when it handles that REMOVE (upkeep.py)."""
    try:
        delete(key)
    except Exception:
        logger.warning(
            "attachment not deleted; the stream consumer will delete it",
            extra={"file_key": key},
            exc_info=True,
        )
        return False
    return True
