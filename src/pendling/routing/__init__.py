"""Car routing for pendling: OpenStreetMap (or OpenMapTiles vector tiles) → road graph → travel-time matrix.

Small typed surface, heavy work hidden (r5py style)::

    from pendling import routing
    g = routing.build_graph(osm="area.osm.pbf")            # or tiles="…/tiles"
    routing.save_graph(g, paths.roads_dir())             # data/roads
    pts = routing.municipality_points("inside")           # code, lon, lat, area_km2
    m = routing.travel_time_matrix(g, pts)               # origin, destination, minutes, km, …

Units: minutes (travel time), km (road distance of the fastest route), metres in the graph.
Modules: ``profile`` (Danish car speeds), ``osm`` / ``tiles`` (readers), ``graph`` (assembly,
components, contraction, storage), ``ferries`` (ferry table → edges), ``matrix`` (snapping,
Dijkstra, area-based within-municipality time), ``pairs`` (travel times for any zone pairs at
scale: contraction hierarchies or Dijkstra, :func:`pair_times`), ``internal`` (within-municipality time measured on
the road network, ``internal='network'``), ``build`` (files + provenance, sanity check), ``osrm``
(OSRM backend and local server).
"""

from pendling.routing.build import build_graph, build_matrix, check_matrix
from pendling.routing.ferries import add_ferries, load_ferries
from pendling.routing.graph import RoadGraph, contract, keep_largest_component, load_graph, save_graph
from pendling.routing.internal import network_internal_time
from pendling.routing.matrix import (
    internal_time,
    municipality_points,
    read_points,
    route_nodes,
    snap_points,
    travel_time_matrix,
)
from pendling.routing.pairs import pair_times
from pendling.routing.profile import CarProfile, load_profile

__all__ = [
    "CarProfile",
    "RoadGraph",
    "add_ferries",
    "build_graph",
    "build_matrix",
    "check_matrix",
    "contract",
    "internal_time",
    "keep_largest_component",
    "load_ferries",
    "load_graph",
    "load_profile",
    "municipality_points",
    "network_internal_time",
    "pair_times",
    "read_points",
    "route_nodes",
    "save_graph",
    "snap_points",
    "travel_time_matrix",
]
