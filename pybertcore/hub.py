"""Where a model's files are: a local folder, or a hub id in the Hugging Face cache (downloaded if allowed).

``from_pretrained(folder)`` never touches the network. A hub id (``"org/name"`` or a bare legacy name
such as ``"bert-base-cased"``) is looked up in the standard cache layout that huggingface_hub writes:

    <cache>/models--org--name/refs/<branch or tag>      (text: the commit hash)
    <cache>/models--org--name/snapshots/<commit>/<file> (usually symlinks into ../../blobs/)

with ``<cache>`` = ``cache_dir=``, else ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else
``$XDG_CACHE_HOME/huggingface/hub``, else ``~/.cache/huggingface/hub``; ``revision=`` is a branch, a
tag or a full commit hash (default ``main``). A complete snapshot (config.json plus weights, preferring
safetensors over .bin) is used as is; otherwise, unless ``local_files_only=True`` or ``HF_HUB_OFFLINE``
is set, the files are downloaded with huggingface_hub (the ``pybertcore[hub]`` extra, imported only
then). The cache lookup itself needs no huggingface_hub.

sentence-transformers models (``resolve_sentence_folder``) are looked up as sentence-transformers does it:
a bare name gets the class's organisation (``"all-MiniLM-L6-v2"`` is ``sentence-transformers/all-MiniLM-L6-v2``)
unless it is one of transformers' legacy names; a snapshot with ``modules.json`` (or, for a plain checkpoint,
``config.json``) is used; a download fetches the whole repository but other frameworks' files (ONNX,
OpenVINO, TensorFlow, Flax, ...) and ``.bin`` weights where a folder has safetensors ones.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Optional

from pybertcore.checkpoints import WEIGHTS_FILE_NAMES, find_weights_file, shard_files

CONFIG_NAME = "config.json"  # a model folder's config, next to its weights
# A tokenizer's files, all fetched when a download is for a tokenizer; a snapshot serves one when it holds
# one of the vocabularies (the first four).
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "spm.model", "spiece.model", "tokenizer_config.json",
                   "special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt",
                   "sentencepiece.bpe.model")
_TOKENIZER_VOCABULARIES = TOKENIZER_FILES[:4]

# Bare names the hub redirects to an organisation's repository. A cache may hold either spelling
# (the folder is named after the id used to download), so both are looked for.
LEGACY_MODEL_IDS = {
    **{name: f"google-bert/{name}" for name in (
        "bert-base-uncased", "bert-base-cased", "bert-large-uncased", "bert-large-cased",
        "bert-base-multilingual-uncased", "bert-base-multilingual-cased", "bert-base-chinese",
        "bert-base-german-cased", "bert-large-uncased-whole-word-masking", "bert-large-cased-whole-word-masking",
        "bert-large-uncased-whole-word-masking-finetuned-squad",
        "bert-large-cased-whole-word-masking-finetuned-squad", "bert-base-cased-finetuned-mrpc",
    )},
    **{name: f"distilbert/{name}" for name in (
        "distilbert-base-uncased", "distilbert-base-cased", "distilbert-base-multilingual-cased",
        "distilbert-base-uncased-finetuned-sst-2-english", "distilbert-base-cased-distilled-squad",
        "distilbert-base-uncased-distilled-squad", "distilroberta-base",
    )},
    **{name: f"FacebookAI/{name}" for name in (
        "roberta-base", "roberta-large", "roberta-large-mnli", "xlm-roberta-base", "xlm-roberta-large",
    )},
    **{name: f"albert/{name}" for name in (
        "albert-base-v1", "albert-large-v1", "albert-base-v2", "albert-large-v2", "albert-xlarge-v2", "albert-xxlarge-v2",
    )},
}
_CANONICAL_TO_LEGACY = {v: k for k, v in LEGACY_MODEL_IDS.items()}
_TRUE = {"1", "ON", "YES", "TRUE"}
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}(/[A-Za-z0-9][\w.-]{0,95})?")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_SNAPSHOT_NAME = re.compile(r"[0-9A-Za-z._-]{1,100}")


def hub_cache_dir(cache_dir: Optional[str | os.PathLike] = None) -> Path:
    """The hub cache folder, resolved as huggingface_hub resolves it."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.path.expandvars(os.environ[var])).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.path.expandvars(os.environ["HF_HOME"])).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def is_offline() -> bool:
    """``HF_HUB_OFFLINE`` (or transformers' ``TRANSFORMERS_OFFLINE``) set to 1/ON/YES/TRUE."""
    return any((os.environ.get(v) or "").upper() in _TRUE for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def repo_folder_name(repo_id: str) -> str:
    return "models--" + repo_id.replace("/", "--")


def candidate_repo_ids(name: str) -> list[str]:
    """The id as given, then its other spelling for the well-known legacy names."""
    ids = [name]
    for other in (LEGACY_MODEL_IDS.get(name), _CANONICAL_TO_LEGACY.get(name)):
        if other:
            ids.append(other)
    return ids


def is_repo_id(name: str) -> bool:
    return bool(_REPO_ID.fullmatch(name)) and "--" not in name and ".." not in name and not name.endswith(".git")


def cached_snapshot(repo_id: str, cache: Path, revision: Optional[str] = None) -> Optional[Path]:
    """``snapshots/<commit>`` of ``repo_id`` for ``revision`` (a ref name or a commit hash), or None."""
    repo = cache / repo_folder_name(repo_id)
    if not repo.is_dir():
        return None
    revision = revision or "main"
    if ".." in Path(revision).parts or Path(revision).is_absolute():
        raise ValueError(f"revision {revision[:100]!r} is not a branch, tag or commit name")
    ref = repo / "refs" / revision
    if ref.is_file():
        # A ref holds a commit hash, which then names a folder: anything that is not one folder name (a
        # hostile or damaged cache, say "../../etc") is refused rather than used as a path.
        with open(ref, "rb") as f:
            raw = f.read(200)
        commit = raw.decode("ascii", errors="replace").strip()
        if not _SNAPSHOT_NAME.fullmatch(commit) or commit in (".", ".."):
            raise OSError(f"{ref}: not a commit hash (a damaged Hugging Face cache ref); delete it and download again")
    elif _COMMIT.fullmatch(revision):
        commit = revision
    else:
        return None
    snapshot = repo / "snapshots" / commit
    return snapshot if snapshot.is_dir() else None


def folder_is_complete(folder: Path, need_weights: bool, weights_names: tuple[str, ...] = WEIGHTS_FILE_NAMES,
                       tokenizer: bool = False) -> bool:
    """config.json, (for a tokenizer) a vocabulary, and (when asked) a weights file whose shards, if any, are all
    present."""
    if not (folder / CONFIG_NAME).is_file():
        return False
    if tokenizer and not any((folder / name).is_file() for name in _TOKENIZER_VOCABULARIES):
        return False
    if not need_weights:
        return True
    weights = find_weights_file(folder, weights_names)
    if weights is None:
        return False
    if weights.name.endswith(".json"):
        try:
            files, _ = shard_files(weights)
        except ValueError:
            return True  # let the loader report the broken index with its file name
        return all((folder / f).is_file() for f in files)
    return True


def resolve_model_folder(
    name_or_path: str | os.PathLike,
    need_weights: bool = True,
    cache_dir: Optional[str | os.PathLike] = None,
    revision: Optional[str] = None,
    local_files_only: bool = False,
    token: object = None,
    force_download: bool = False,
    subfolder: str = "",
    proxies: object = None,
    weights_names: tuple[str, ...] = WEIGHTS_FILE_NAMES,
    tokenizer: bool = False,
) -> Path:
    """The folder holding the model's files, or an OSError that names what was looked for, where, and how to get it.

    ``need_weights``: a snapshot counts only if it also holds one of ``weights_names`` (best first; a
    shard index with all its shards); a download fetches the first of them the repository has.
    ``tokenizer``: a snapshot counts only with a tokenizer vocabulary; a download fetches every
    TOKENIZER_FILES the repository has.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        folder = path / subfolder if subfolder else path
        if not folder.is_dir():
            raise OSError(f"{path} has no subfolder {subfolder!r}")
        return folder
    name = os.fspath(name_or_path)
    if not is_repo_id(name):
        raise OSError(
            f"{name!r} is not a local folder (no such directory) and not a Hugging Face Hub model id "
            "('org/name' or a bare name such as 'bert-base-cased'). Pass the path of a folder holding config.json "
            "and model.safetensors (save_pretrained writes one), or a hub id."
        )
    cache = hub_cache_dir(cache_dir)
    looked = []
    for repo_id in candidate_repo_ids(name):
        looked.append(str(cache / repo_folder_name(repo_id)))
        if force_download:
            continue
        snapshot = cached_snapshot(repo_id, cache, revision)
        if snapshot is not None:
            folder = snapshot / subfolder if subfolder else snapshot
            if folder_is_complete(folder, need_weights, weights_names, tokenizer):
                return folder

    reason = _downloads_off(local_files_only)
    if reason is None:
        return _download(name, need_weights, cache_dir, revision, token, force_download, subfolder, proxies, looked,
                         weights_names, tokenizer)
    complete = "config.json plus tokenizer.json, vocab.txt or a SentencePiece model" if tokenizer else \
        "config.json plus model.safetensors or pytorch_model.bin" if need_weights else "config.json"
    raise OSError(_not_found_message(name, revision, looked, f"downloads are off ({reason})", complete))


def resolve_config_file(name_or_path: str | os.PathLike, **hub_kwargs) -> Path:
    """``config.json`` of a model folder or hub id, or the path itself when it is a JSON file."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    folder = resolve_model_folder(name_or_path, need_weights=False, **hub_kwargs)
    config = folder / CONFIG_NAME
    if not config.is_file():
        raise OSError(f"{folder} has no {CONFIG_NAME}; a model folder needs one (save_pretrained writes it)")
    return config


def _downloads_off(local_files_only: bool) -> Optional[str]:
    """Why nothing may be downloaded (``local_files_only``, ``HF_HUB_OFFLINE``), or None."""
    return "local_files_only=True" if local_files_only else "HF_HUB_OFFLINE is set" if is_offline() else None


def _hub_client(name: str, revision: Optional[str], looked: list[str],
                complete: str = "config.json plus model.safetensors or pytorch_model.bin") -> Any:
    """huggingface_hub, imported only to download; an OSError saying how to get it when it is missing."""
    try:
        import huggingface_hub
    except ImportError:
        raise OSError(_not_found_message(name, revision, looked, "downloading needs huggingface_hub, which is not "
                                         "installed (pip install 'pybertcore[hub]')", complete)) from None
    return huggingface_hub


def _not_found_message(name: str, revision: Optional[str], looked: list[str], why: str,
                       complete: str = "config.json plus model.safetensors or pytorch_model.bin") -> str:
    at = f" at revision {revision!r}" if revision else ""
    return (
        f"{name!r} is not a local folder, and no complete copy of it{at} ({complete}) is in the Hugging Face "
        f"cache; looked in {', '.join(looked)}; {why}. To get it: run "
        f"`hf download {name}` (huggingface_hub's CLI) where the network is reachable, or call from_pretrained "
        "online with huggingface_hub installed (pip install 'pybertcore[hub]'), or pass the path of a folder "
        "holding config.json and model.safetensors. Set HF_HUB_CACHE, HF_HOME or cache_dir= if the cache is elsewhere."
    )


def _download(
    name: str,
    need_weights: bool,
    cache_dir: object,
    revision: Optional[str],
    token: object,
    force_download: bool,
    subfolder: str,
    proxies: object,
    looked: list[str],
    weights_names: tuple[str, ...],
    tokenizer: bool = False,
) -> Path:
    """Fetches config.json, the preferred weights (safetensors, else .bin; shards too) and, for a tokenizer, the
    tokenizer files the repository has, into the cache."""
    huggingface_hub = _hub_client(name, revision, looked)
    try:
        from huggingface_hub.errors import EntryNotFoundError
    except ImportError:  # huggingface_hub < 0.23
        from huggingface_hub.utils import EntryNotFoundError

    cache = hub_cache_dir(cache_dir)  # the folder the lookup used, whatever huggingface_hub read at import

    def fetch(filename: str) -> Path:
        kwargs = {"proxies": proxies} if proxies is not None else {}
        return Path(huggingface_hub.hf_hub_download(
            name, filename, subfolder=subfolder or None, revision=revision, cache_dir=str(cache),
            token=token, force_download=force_download, **kwargs,
        ))

    try:
        config = fetch(CONFIG_NAME)
        if need_weights:
            for filename in weights_names:
                try:
                    weights = fetch(filename)
                except EntryNotFoundError:
                    continue
                if filename.endswith(".json"):
                    for shard in shard_files(weights)[0]:
                        fetch(shard)
                break
            else:
                raise OSError(f"{name} has none of {', '.join(weights_names)}; pybertcore cannot load it")
        if tokenizer:
            for filename in TOKENIZER_FILES:
                try:
                    fetch(filename)
                except EntryNotFoundError:
                    continue
    except OSError as e:
        if type(e).__name__ in ("RepositoryNotFoundError", "GatedRepoError", "RevisionNotFoundError"):
            raise OSError(f"{name!r}: {e}") from None
        if isinstance(e, (FileNotFoundError, ConnectionError)) or type(e).__name__ == "LocalEntryNotFoundError":
            raise OSError(_not_found_message(name, revision, looked, f"the download failed ({e})")) from None
        raise
    return config.parent


# --- sentence-transformers models -------------------------------------------------------------------------
SENTENCE_MODULES_NAME = "modules.json"
# Files a sentence-transformers download leaves out: other frameworks' and runtimes' copies of the weights,
# training checkpoints (.pt, .pth, .ckpt: never read here) and dot files.
_OTHER_FORMATS = re.compile(
    r"(^|/)(onnx|openvino|coreml|tf|flax)/|\.(onnx|onnx_data|h5|msgpack|ot|tflite|mlmodel|gguf|pt|pth|ckpt)$"
    r"|(^|/)(tf_model|flax_model|rust_model|model\.onnx)[^/]*$|(^|/)\.")


def sentence_repo_id(name: str, organization: Optional[str]) -> str:
    """sentence-transformers' reading of a bare model name: under the class's organisation
    (``sentence-transformers``, ``cross-encoder``, ``sparse-encoder``), unless it is a legacy transformers name."""
    if organization and "/" not in name and name not in LEGACY_MODEL_IDS and name.lower() not in LEGACY_MODEL_IDS:
        return f"{organization}/{name}"
    return name


def sentence_files_to_fetch(files: list[str]) -> list[str]:
    """The repository files a sentence-transformers model needs: all but other formats' (_OTHER_FORMATS), and
    no ``pytorch_model*.bin`` in a folder that has safetensors weights."""
    keep = [f for f in files if not _OTHER_FORMATS.search(f)]
    safetensors_dirs = {os.path.dirname(f) for f in keep
                        if os.path.basename(f).startswith("model") and ".safetensors" in os.path.basename(f)}
    return [f for f in keep if not (os.path.basename(f).startswith("pytorch_model")
                                    and os.path.dirname(f) in safetensors_dirs)]


def resolve_sentence_folder(
    name_or_path: str | os.PathLike,
    organization: Optional[str],
    cache_dir: Optional[str | os.PathLike] = None,
    revision: Optional[str] = None,
    local_files_only: bool = False,
    token: object = None,
) -> Path:
    """The folder of a sentence-transformers model (SentenceTransformer, CrossEncoder, SparseEncoder): a local
    folder, else a hub id read as sentence-transformers reads it (module docstring), from the cache, else
    downloaded when allowed. A file is NotADirectoryError; what cannot be found is an OSError naming where it
    was looked for and how to get it."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    name = os.fspath(name_or_path)
    if path.is_file():
        raise NotADirectoryError(f"{name} is a file, not a directory: pass a model folder or a Hugging Face Hub "
                                 "model id")
    if not is_repo_id(name):
        raise OSError(f"{name!r} is not a local folder (no such directory) and not a Hugging Face Hub model id")
    name = sentence_repo_id(name, organization)
    cache = hub_cache_dir(cache_dir)
    looked, plain = [], None
    reason = _downloads_off(local_files_only)
    for repo_id in candidate_repo_ids(name):
        looked.append(str(cache / repo_folder_name(repo_id)))
        snapshot = cached_snapshot(repo_id, cache, revision)
        if snapshot is None:
            continue
        if (snapshot / SENTENCE_MODULES_NAME).is_file():
            return snapshot
        # A plain checkpoint: used as it is offline; online the repository is asked for the rest first (a
        # snapshot that transformers filled holds no modules.json even where the model has one).
        if plain is None and (snapshot / CONFIG_NAME).is_file():
            plain = snapshot
    if reason is not None and plain is not None:
        return plain
    complete = "modules.json or config.json"
    if reason is not None:
        raise OSError(_not_found_message(name, revision, looked, f"downloads are off ({reason})", complete))
    huggingface_hub = _hub_client(name, revision, looked, complete)
    try:
        files = sentence_files_to_fetch(list(huggingface_hub.list_repo_files(name, revision=revision, token=token)))
        fetched = [Path(huggingface_hub.hf_hub_download(name, f, revision=revision, cache_dir=str(cache), token=token))
                   for f in files]
    except Exception as e:  # requests' errors are OSErrors, httpx's (huggingface_hub 1.x) are not
        if type(e).__name__ in ("RepositoryNotFoundError", "GatedRepoError", "RevisionNotFoundError"):
            raise OSError(f"{name!r}: {e}") from None
        if plain is not None:  # the hub is out of reach: the cached checkpoint, as huggingface_hub falls back
            return plain
        raise OSError(_not_found_message(name, revision, looked, f"the download failed ({e})", complete)) from None
    if not fetched:
        raise OSError(f"{name!r}: the repository holds no files pybertcore can load")
    # the snapshot folder: a fetched file's path less the file's own path within the repository
    return fetched[0].parents[len(Path(files[0]).parts) - 1]
