"""mkdocs hook: the pages link to dated benchmark printouts where they live, `../benchmarks/results/...`
(so the links work on a repository browser too); the site gets a copy of that folder and the links
are pointed at it, so `mkdocs build --strict` checks them like any link between pages."""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, InclusionLevel

RESULTS = "benchmarks/results"


def on_files(files, config):
    root = Path(config["config_file_path"]).parent
    for path in sorted((root / RESULTS).iterdir()):
        if path.is_file():
            file = File(f"{RESULTS}/{path.name}", str(root), config["site_dir"], config["use_directory_urls"])
            file.inclusion = InclusionLevel.NOT_IN_NAV  # printouts, linked from the pages
            files.append(file)
    return files


def on_page_markdown(markdown, page, config, files):
    depth = page.file.src_uri.count("/")
    return markdown.replace(f"]({'../' * (depth + 1)}{RESULTS}/", f"]({'../' * depth}{RESULTS}/")
