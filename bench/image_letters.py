"""Image letters judged by the image alone: each image of the corpus's image folders is
re-sent in a bland mail (an ordinary name at a free-mail address, a one-line body that
only points at the attachment, a neutral subject), as the seed wave's real mails look,
and scanned with and without OCR.

    python bench/image_letters.py [--corpus DIR]

The corpus mails around the letters carry their own signals (an authority as display
name, "Convocation" as subject); the real image letters of the held-out set often carry
none, so this is the figure that says whether the letter itself is read and understood.
Prints, per image, the action and score without and with OCR, and the totals held.
"""

from __future__ import annotations

import argparse
import sys
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from milter.config import shipped_rules_dir  # noqa: E402
from milter.ocr.reader import open_reader  # noqa: E402
from milter.ocr.settings import OcrSettings  # noqa: E402
from milter.scan.scanner import Scanner  # noqa: E402
from milter.scan.verdict import Action  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
HELD = (Action.QUARANTINE, Action.REJECT)


def images_of(path: Path) -> list[tuple[str, str, bytes]]:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    found = []
    for part in message.walk():
        if part.get_content_maintype() == "image":
            data = part.get_content()
            found.append((part.get_filename() or "image.jpg", part.get_content_type(), data))
    return found


def bland(name: str, kind: str, data: bytes) -> bytes:
    message = EmailMessage()
    message["From"] = "J. Martin <j.martin.1984@gmail.com>"
    message["To"] = "someone@example.com"
    message["Subject"] = "Document"
    message.set_content(f"[image: {name}]")
    maintype, _, subtype = kind.partition("/")
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    scanner = Scanner.from_rule_paths([shipped_rules_dir()])
    ocr, status = open_reader(OcrSettings())
    print(status.text)
    if ocr is None:
        return 1
    totals = {"scam": [0, 0, 0], "ham": [0, 0, 0]}  # images, held without, held with
    for folder in sorted(p for p in args.corpus.iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.eml"))
        letters = [(f, image) for f in files for image in images_of(f)]
        if not letters or not folder.name.endswith("images"):
            continue
        kind = "ham" if folder.name.startswith("ham") else "scam"
        print(f"{folder.name}:")
        for path, (name, ctype, data) in letters:
            view = scanner.view(bland(name, ctype, data))
            without = scanner.scan_view(view)
            with_ocr = scanner.scan_view(ocr.read_view(view))
            totals[kind][0] += 1
            totals[kind][1] += without.action in HELD
            totals[kind][2] += with_ocr.action in HELD
            print(
                f"  {path.name}: without OCR {without.action.value} ({without.score:g}),"
                f" with OCR {with_ocr.action.value} ({with_ocr.score:g})"
            )
    for kind, (count, before, after) in totals.items():
        if count:
            print(f"{kind}: {count} images; held without OCR {before}, with OCR {after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
