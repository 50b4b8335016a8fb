"""Read the features of a vector file (GeoJSON, GeoPackage, Shapefile, ...) as GeoJSON in WGS 84.

GDAL's `ogr2ogr` (Debian package gdal-bin) reads the file and reprojects it to EPSG:4326; its output is a
GeoJSON FeatureCollection whose features keep the file's order, so "feature k" means the k-th feature of the
file (1-based). Without ogr2ogr only a GeoJSON file already in WGS 84 can be read.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from flowdb.errors import FlowDBError

OGR2OGR_TIMEOUT_SECONDS = 600
GEOJSON_SUFFIXES = (".geojson", ".json")
_INSTALL_GDAL = "install gdal-bin to reproject it to WGS 84"
WGS84_NAMES = {
    "EPSG:4326",
    "URN:OGC:DEF:CRS:EPSG::4326",
    "URN:OGC:DEF:CRS:EPSG:4326",
    "URN:OGC:DEF:CRS:OGC:1.3:CRS84",
    "URN:OGC:DEF:CRS:OGC::CRS84",
    "OGC:CRS84",
    "CRS84",
}


def read_features(path: Path, source_layer: str | None = None) -> list[dict[str, Any]]:
    """The features of `path` (of its layer `source_layer`, if the file has several) in EPSG:4326."""
    path = Path(path)
    if not path.exists():
        raise FlowDBError(f"geography file {path} does not exist")
    if source_layer is not None and (not source_layer or source_layer.startswith("-")):
        raise FlowDBError(f"{source_layer!r} is not a layer name")
    ogr2ogr = shutil.which("ogr2ogr")
    if ogr2ogr is None:
        if path.suffix.lower() in GEOJSON_SUFFIXES and source_layer is None:
            return features_of(read_json(path, path.name), path.name, crs_hint=_INSTALL_GDAL)
        raise FlowDBError(
            f"reading {path.name} needs GDAL's ogr2ogr: apt-get install gdal-bin "
            "(only a GeoJSON file in WGS 84 can be read without it)"
        )
    with tempfile.TemporaryDirectory(prefix="flowdb-ogr-") as tmp:
        out = Path(tmp) / "layer.geojson"
        argv = [
            ogr2ogr,
            "-f",
            "GeoJSON",
            "-t_srs",
            "EPSG:4326",
            "-lco",
            "RFC7946=NO",  # keep the coordinates as reprojected (RFC 7946 would also round and re-wind)
            str(out),
            str(path.absolute()),  # never read as an option, whatever the file is called
        ]
        if source_layer is not None:
            argv.append(source_layer)
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=OGR2OGR_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise FlowDBError(
                f"ogr2ogr did not finish reading {path.name} in {OGR2OGR_TIMEOUT_SECONDS} s"
            ) from None
        if done.returncode != 0 or not out.exists():
            message = _first_error(done.stderr) or f"exit status {done.returncode}"
            raise FlowDBError(f"ogr2ogr cannot read {path.name}: {message}")
        return features_of(read_json(out, path.name), path.name)


def _first_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line.upper()]
    return (errors or lines or [""])[0]


def read_json(path: Path, label: str) -> Any:
    """The JSON document in `path`, named `label` in errors."""
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise FlowDBError(f"{label} is not JSON: it is not UTF-8 text") from None
    except ValueError as exc:
        raise FlowDBError(f"{label} is not JSON: {exc}") from None


def features_of(
    doc: Any,
    label: str,
    *,
    crs_hint: str | None = None,
    geometry_types: tuple[str, ...] | None = None,
) -> list[dict[str, Any]]:
    """The features of the GeoJSON FeatureCollection `doc` (named `label` in errors), each checked to be a
    Feature whose properties are an object, and whose geometry is one of `geometry_types` if given. With a
    `crs_hint`, a `crs` other than WGS 84 lon/lat is refused with that hint on what to do."""
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        found = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise FlowDBError(f"{label} is not a GeoJSON FeatureCollection (type is {found!r})")
    crs = doc.get("crs")
    if crs_hint is not None and crs is not None:
        name = crs.get("properties", {}).get("name") if isinstance(crs, dict) else None
        if not isinstance(name, str) or name.upper() not in WGS84_NAMES:
            raise FlowDBError(f"{label} is in CRS {name or crs!r}: {crs_hint}")
    features = doc.get("features")
    if not isinstance(features, list) or not features:
        raise FlowDBError(f"{label} has no features")
    for k, feature in enumerate(features, start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise FlowDBError(f"{label}: feature {k} is not a GeoJSON Feature")
        if geometry_types is not None:
            geom = feature.get("geometry")
            kind = geom.get("type") if isinstance(geom, dict) else None
            if kind not in geometry_types:
                raise FlowDBError(
                    f"{label}: feature {k} has geometry {kind!r}; only "
                    f"{' and '.join(geometry_types)} are allowed"
                )
        if not isinstance(feature.get("properties") or {}, dict):
            raise FlowDBError(f"{label}: feature {k} has properties that are not an object")
    return features
