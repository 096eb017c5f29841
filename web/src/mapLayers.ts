// MapLibre style pieces: the offline base style and our own sources and layers.
// No symbol layers anywhere: there are no glyphs offline, labels are HTML.
import type { FeatureCollection } from 'geojson';
import type { District } from './api';
import type { ExpressionSpecification, Map as MapLibreMap, StyleSpecification } from 'maplibre-gl';
import { STATUS_COLORS } from './labels';

export const DISTRICTS_SOURCE = 'mcu-districts';
export const APPEALS_SOURCE = 'mcu-appeals';

export const LAYER = {
  districtFill: 'mcu-district-fill',
  districtLine: 'mcu-district-line',
  districtLineApprox: 'mcu-district-line-approx',
  districtSelected: 'mcu-district-selected',
  clusters: 'mcu-appeal-clusters',
  points: 'mcu-appeal-points',
  pointSelected: 'mcu-appeal-selected',
} as const;

/** Calm, distinguishable fills for districts (cycled). */
export const DISTRICT_PALETTE = ['#4c6ef5', '#12b886', '#f59f00', '#be4bdb', '#15aabf', '#fa5252', '#82c91e', '#7950f2', '#fd7e14', '#868e96'];

export const BACKGROUND_COLOR = '#e9edf1';

/** Fully offline style: a background and nothing else to fetch (no glyphs, no sprite). */
export function offlineStyle(): StyleSpecification {
  return {
    version: 8,
    name: 'МЦУ Hub offline',
    sources: {},
    layers: [{ id: 'mcu-background', type: 'background', paint: { 'background-color': BACKGROUND_COLOR } }],
  };
}

const statusColor: ExpressionSpecification = [
  'match',
  ['get', 'status'],
  'NEW', STATUS_COLORS.NEW,
  'IN_PROGRESS', STATUS_COLORS.IN_PROGRESS,
  'ANSWERED', STATUS_COLORS.ANSWERED,
  'CLOSED', STATUS_COLORS.CLOSED,
  'REJECTED', STATUS_COLORS.REJECTED,
  '#495057',
];

/** Cluster circle steps (point count threshold → radius px / colour), shared with the HTML count markers. */
const CLUSTER_STEPS: { min: number; radius: number; color: string }[] = [
  { min: 0, radius: 13, color: '#5c7cfa' },
  { min: 10, radius: 16, color: '#5c7cfa' },
  { min: 25, radius: 19, color: '#4263eb' },
  { min: 100, radius: 24, color: '#364fc7' },
  { min: 300, radius: 30, color: '#243b99' },
];

export function clusterRadius(count: number): number {
  return [...CLUSTER_STEPS].reverse().find((s) => count >= s.min)!.radius;
}

export function clusterColor(count: number): string {
  return [...CLUSTER_STEPS].reverse().find((s) => count >= s.min)!.color;
}

function stepExpression(pick: 'radius' | 'color'): ExpressionSpecification {
  const [first, ...rest] = CLUSTER_STEPS;
  return ['step', ['get', 'point_count'], first[pick], ...rest.flatMap((s) => [s.min, s[pick]])] as unknown as ExpressionSpecification;
}

export function addMcuLayers(map: MapLibreMap): void {
  map.addSource(DISTRICTS_SOURCE, {
    type: 'geojson',
    data: { type: 'FeatureCollection', features: [] },
    promoteId: 'id',
  });
  map.addSource(APPEALS_SOURCE, {
    type: 'geojson',
    data: { type: 'FeatureCollection', features: [] },
    cluster: true,
    clusterRadius: 48,
    clusterMaxZoom: 14,
    // Pairs and triples stay as coloured points: their status is more useful than a "2".
    clusterMinPoints: 4,
    promoteId: 'id',
  });

  map.addLayer({
    id: LAYER.districtFill,
    type: 'fill',
    source: DISTRICTS_SOURCE,
    paint: {
      'fill-color': ['coalesce', ['get', 'color'], DISTRICT_PALETTE[0]],
      // Lighter fills when zoomed in, so points stay readable.
      'fill-opacity': [
        'interpolate', ['linear'], ['zoom'],
        12, ['case', ['boolean', ['feature-state', 'hover'], false], 0.28, 0.14],
        16, ['case', ['boolean', ['feature-state', 'hover'], false], 0.14, 0.05],
      ],
    },
  });
  map.addLayer({
    id: LAYER.districtLine,
    type: 'line',
    source: DISTRICTS_SOURCE,
    filter: ['!=', ['get', 'approximate'], true],
    paint: { 'line-color': ['coalesce', ['get', 'color'], DISTRICT_PALETTE[0]], 'line-width': 1.5, 'line-opacity': 0.85 },
  });
  map.addLayer({
    id: LAYER.districtLineApprox,
    type: 'line',
    source: DISTRICTS_SOURCE,
    filter: ['==', ['get', 'approximate'], true],
    paint: {
      'line-color': ['coalesce', ['get', 'color'], DISTRICT_PALETTE[0]],
      'line-width': 1.5,
      'line-opacity': 0.85,
      'line-dasharray': [3, 2],
    },
  });
  map.addLayer({
    id: LAYER.districtSelected,
    type: 'line',
    source: DISTRICTS_SOURCE,
    filter: ['==', ['get', 'id'], ''],
    paint: { 'line-color': '#1f2d3d', 'line-width': 3 },
  });

  map.addLayer({
    id: LAYER.clusters,
    type: 'circle',
    source: APPEALS_SOURCE,
    filter: ['has', 'point_count'],
    paint: {
      'circle-color': stepExpression('color'),
      'circle-opacity': 0.9,
      'circle-radius': stepExpression('radius'),
      'circle-stroke-width': 2,
      'circle-stroke-color': '#ffffff',
      'circle-stroke-opacity': 0.9,
    },
  });
  map.addLayer({
    id: LAYER.points,
    type: 'circle',
    source: APPEALS_SOURCE,
    filter: ['!', ['has', 'point_count']],
    paint: {
      'circle-color': statusColor,
      'circle-radius': ['interpolate', ['linear'], ['zoom'], 10, 3.5, 14, 6, 17, 9],
      'circle-stroke-width': 1.2,
      'circle-stroke-color': '#ffffff',
      'circle-opacity': 0.92,
    },
  });
  map.addLayer({
    id: LAYER.pointSelected,
    type: 'circle',
    source: APPEALS_SOURCE,
    filter: ['==', ['get', 'id'], ''],
    paint: {
      'circle-color': 'rgba(0,0,0,0)',
      'circle-radius': ['interpolate', ['linear'], ['zoom'], 10, 8, 14, 11, 17, 14],
      'circle-stroke-width': 3,
      'circle-stroke-color': '#1f2d3d',
    },
  });
}

/** Districts as the GeoJSON of the district layers (colour by position, approximate flag). */
export function districtFeatureCollection(districts: District[]): FeatureCollection {
  return {
    type: 'FeatureCollection',
    features: districts
      .filter((d) => d.geometry)
      .map((d, i) => ({
        type: 'Feature',
        properties: { id: d.id, name: d.name, color: DISTRICT_PALETTE[i % DISTRICT_PALETTE.length], approximate: d.approximate === true },
        geometry: d.geometry!,
      })),
  };
}
