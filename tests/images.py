"""Image files made in the tests with Pillow: good ones, and each kind of bad one."""

import io
import struct
import zlib

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageCms

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)

SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<script>alert(1)</script><rect width="10" height="10"/></svg>'
)


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def upload(data: bytes, name: str = "avatar.png", content_type: str = "image/png"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def png(size=(300, 300), colour=RED) -> bytes:
    return encoded(Image.new("RGB", size, colour), "PNG")


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header (IHDR, with a correct CRC) says it is width x height."""
    data = bytearray(png((8, 8)))
    # Signature (8), length (4), b"IHDR" (4), then width and height; the CRC covers type and data.
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def truncated_jpeg() -> bytes:
    photo = Image.effect_mandelbrot((600, 600), (-2, -1.5, 1, 1.5), 50).convert("RGB")
    data = encoded(photo, "JPEG", quality=90)
    return data[: len(data) // 2]


def halves(size=(300, 300), left=RED, right=BLUE) -> Image.Image:
    image = Image.new("RGB", size, right)
    image.paste(left, (0, 0, size[0] // 2, size[1]))
    return image


def jpeg_with_metadata(orientation: int = 1) -> bytes:
    """A JPEG with EXIF (a camera, GPS coordinates, an orientation), an ICC profile and XMP."""
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"  # Make
    exif[0x0112] = orientation
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}  # GPSInfo
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><secret>where I live</secret></x:xmpmeta>'
    return encoded(halves(), "JPEG", exif=exif, icc_profile=profile, xmp=xmp)


def animated_gif() -> bytes:
    frames = [Image.new("P", (100, 100), 0), Image.new("P", (100, 100), 1)]
    for frame in frames:
        frame.putpalette([*RED, *BLUE] + [0] * 762)
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)


def transparent_palette_png() -> bytes:
    image = Image.new("P", (100, 100), 0)
    image.putpalette([*RED, *GREEN] + [0] * 762)
    image.paste(1, (0, 0, 100, 50))
    return encoded(image, "PNG", transparency=0)


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def close_to(pixel, colour, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=False))
