"""Avatar images: only real images are accepted; each is cropped square,
resized on the server and re-encoded, which drops every piece of metadata."""

from __future__ import annotations

import io
import uuid
import warnings

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}


def avatar_from_upload(upload: UploadedFile) -> ContentFile[bytes]:
    """A square WebP avatar made from the upload, or ValidationError saying why not."""
    max_bytes = settings.AVATAR_MAX_BYTES
    if upload.size is None or upload.size > max_bytes:
        raise ValidationError(
            f"The image is larger than {max_bytes // (1024 * 1024)} MB.", code="too_large"
        )
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(upload) as probe:
                _check_header(probe)
                probe.verify()
            upload.seek(0)
            with Image.open(upload) as image:
                _check_header(image)
                image.seek(0)  # first frame of an animation
                square = _square(image)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValidationError("The image has too many pixels.", code="too_many_pixels") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ValidationError("The file is not an image we can read.", code="not_an_image") from exc

    out = io.BytesIO()
    square.save(out, format="WEBP", quality=85, method=4)
    return ContentFile(out.getvalue(), name=f"{uuid.uuid4().hex}.webp")


def _check_header(image: Image.Image) -> None:
    if image.format not in ACCEPTED_FORMATS:
        raise ValidationError("Upload a JPEG, PNG, GIF or WebP image.", code="unsupported_format")
    width, height = image.size
    if width < 1 or height < 1 or width * height > settings.AVATAR_MAX_PIXELS:
        raise ValidationError("The image has too many pixels.", code="too_many_pixels")


def _square(image: Image.Image) -> Image.Image:
    size = settings.AVATAR_SIZE
    oriented = ImageOps.exif_transpose(image) or image
    mode = "RGBA" if "A" in oriented.getbands() or "transparency" in oriented.info else "RGB"
    return ImageOps.fit(oriented.convert(mode), (size, size), Image.Resampling.LANCZOS)
