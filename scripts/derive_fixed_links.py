"""Derive Denmark's fixed links (road bridges, tunnels and causeways across water) into data/reference/.

Only for drawing: `pendling map --from` shows them beside the ferry lines, so a reader sees why an
island municipality is near or far. Bridge tags are not reliable in the tiles (the Storebælt West
Bridge carries none), so a fixed link is found geometrically instead: the parts of motorway, trunk,
primary and secondary roads (zoom-9 OpenStreetMap vector tiles, layer ``transportation``) that lie
outside the land of the 98 municipalities (DAGI 1:500 000), at least ``--min-m`` metres long and with
their midpoint at least ``--min-offshore-m`` from land (which drops coastal roads that only leave
the generalised coastline). A part is a tunnel when most of it overlaps roads tagged
``brunnel=tunnel``, else a bridge (causeways such as the Rømø dam count as bridges).

Output ``data/reference/fixed_links.geojson`` (EPSG:4326; properties ``kind`` bridge|tunnel,
``length_m``, ``offshore_m``), ODbL like its source. Usage:
  python scripts/derive_fixed_links.py [--tiles /work/shared/data/roads/tiles]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile as mvt
import shapely
from shapely.geometry import LineString

from pendling.io import write_text

ZOOM = 9
ROAD_CLASSES = {"motorway", "trunk", "primary", "secondary"}
METRIC_CRS = "EPSG:25832"
REPO = Path(__file__).resolve().parents[1]
LAND = REPO / "data" / "municipalities" / "raw" / "dagi_kommuner_500k.geojson"


def _lonlat(tx: int, ty: int, extent: int, x: float, y_up: float) -> tuple[float, float]:
    """Tile pixel (y counted upwards, as mapbox_vector_tile decodes) → WGS84 degrees (Web Mercator)."""
    n = 2**ZOOM
    fx = (tx + x / extent) / n
    fy = (ty + (extent - y_up) / extent) / n
    return fx * 360.0 - 180.0, math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * fy))))


def read_roads(tiles: Path) -> gpd.GeoDataFrame:
    """Major road lines from the zoom-9 tiles, EPSG:25832, with ``brunnel`` (bridge/tunnel/None)."""
    rows = []
    for f in sorted((tiles / str(ZOOM)).glob("*/*.pbf")):
        tx, ty = int(f.parent.name), int(f.stem)
        layer = mvt.decode(f.read_bytes()).get("transportation")
        if not layer:
            continue
        extent = layer.get("extent", 4096)
        for feat in layer["features"]:
            p = feat["properties"]
            if p.get("class") not in ROAD_CLASSES:
                continue
            geom = feat["geometry"]
            parts = [geom["coordinates"]] if geom["type"] == "LineString" else geom["coordinates"]
            for part in parts if geom["type"] in ("LineString", "MultiLineString") else []:
                if len(part) >= 2:
                    line = LineString([_lonlat(tx, ty, extent, x, y) for x, y in part])
                    rows.append({"brunnel": p.get("brunnel"), "geometry": line})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326").to_crs(METRIC_CRS)


def fixed_links(roads: gpd.GeoDataFrame, land: gpd.GeoDataFrame, min_m: float, min_offshore_m: float) -> gpd.GeoDataFrame:
    land_union = shapely.union_all(shapely.force_2d(land.to_crs(METRIC_CRS).geometry.values))
    # Tiles overlap at their edges; snapping to 1 m before the union lets the pieces merge into one line.
    network = shapely.line_merge(shapely.set_precision(shapely.union_all(roads.geometry.values), 1.0))
    offshore = shapely.line_merge(shapely.difference(network, land_union))
    parts = gpd.GeoDataFrame(geometry=list(shapely.get_parts(offshore)), crs=METRIC_CRS)
    parts["length_m"] = parts.length
    mid = parts.geometry.interpolate(0.5, normalized=True)
    parts["offshore_m"] = shapely.distance(mid.values, land_union)
    keep = parts[(parts["length_m"] >= min_m) & (parts["offshore_m"] >= min_offshore_m)].copy()
    tunnels = shapely.union_all(roads[roads["brunnel"] == "tunnel"].geometry.buffer(5.0).values)
    in_tunnel = shapely.intersection(keep.geometry.values, tunnels)
    keep["kind"] = ["tunnel" if t.length > 0.5 * n else "bridge" for t, n in zip(in_tunnel, keep["length_m"], strict=True)]
    keep["length_m"] = keep["length_m"].round(0).astype(int)
    keep["offshore_m"] = keep["offshore_m"].round(0).astype(int)
    return keep.sort_values(["kind", "length_m", "offshore_m"], ascending=[True, False, False]).to_crs("EPSG:4326")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiles", type=Path, default=Path("/work/shared/data/roads/tiles"))
    ap.add_argument("--min-m", type=float, default=300.0)
    ap.add_argument("--min-offshore-m", type=float, default=100.0)
    ap.add_argument("--out", type=Path, default=REPO / "data" / "reference")
    args = ap.parse_args()
    links = fixed_links(read_roads(args.tiles), gpd.read_file(LAND), args.min_m, args.min_offshore_m)
    features = [
        {
            "type": "Feature",
            "properties": {"kind": r.kind, "length_m": int(r.length_m), "offshore_m": int(r.offshore_m)},
            "geometry": {"type": "LineString", "coordinates": [[round(x, 5), round(y, 5)] for x, y in r.geometry.coords]},
        }
        for r in links.itertuples()
    ]
    doc = {
        "type": "FeatureCollection",
        "name": "fixed_links",
        "attribution": "© OpenStreetMap contributors, ODbL 1.0 (tokenless-tiles/denmark @ 6451d712, zoom 9); "
        "land: DAGI 1:500 000, Styrelsen for Dataforsyning og Infrastruktur",
        "features": features,
    }
    write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", args.out / "fixed_links.geojson")
    print(f"{len(features)} fixed links ({(links['kind'] == 'tunnel').sum()} tunnels) → {args.out / 'fixed_links.geojson'}")


if __name__ == "__main__":
    main()
