// Every string the UI shows, in one table, so a translation is one edit and a
// missing key is a type error rather than an English word in a Korean panel.

import type { Lang } from "./protocol";

const en = {
  layerCount: "{n} layers",
  layersLabel: "Layers",
  noLayers: "No layers",
  colName: "Layer",
  colType: "Type",
  colShape: "Output shape",
  colParams: "Params",
  expand: "Expand",
  collapse: "Collapse",
  notTrainable: "not trainable",
  samplesLabel: "Samples",
  sampleN: "Sample {n}",
  viewsLabel: "Views",
  view_activations: "Feature maps",
  view_weights: "Weights",
  view_gradcam: "Grad-CAM",
  view_saliency: "Saliency",
  view_filters: "Filters",
  loading: "Computing…",
  selectLayer: "Select a layer",
  warning: "Warning",
  error: "Error",
  noImage: "The kernel sent a result without image data.",
  downsampled: "drawn at 1/{n} scale; true size {shape}",
  resultAlt: "{view} of {layer}",
} as const;

export type StringKey = keyof typeof en;

const ko: Record<StringKey, string> = {
  layerCount: "레이어 {n}개",
  layersLabel: "레이어",
  noLayers: "레이어 없음",
  colName: "레이어",
  colType: "유형",
  colShape: "출력 형태",
  colParams: "파라미터",
  expand: "펼치기",
  collapse: "접기",
  notTrainable: "학습되지 않음",
  samplesLabel: "샘플",
  sampleN: "샘플 {n}",
  viewsLabel: "보기",
  view_activations: "특징 맵",
  view_weights: "가중치",
  view_gradcam: "Grad-CAM",
  view_saliency: "현저성 맵",
  view_filters: "필터",
  loading: "계산 중…",
  selectLayer: "레이어를 선택하세요",
  warning: "경고",
  error: "오류",
  noImage: "커널이 이미지 데이터 없이 결과를 보냈습니다.",
  downsampled: "1/{n} 크기로 표시; 실제 크기 {shape}",
  resultAlt: "{layer}의 {view}",
};

const TABLE: Record<Lang, Record<StringKey, string>> = { en, ko };

export const LANGS = Object.keys(TABLE) as Lang[];

/** The `lang` trait as a known language; anything else falls back to English. */
export function toLang(value: unknown): Lang {
  return value === "ko" ? "ko" : "en";
}

/** The string for `key` with `{name}` placeholders filled from `params`. */
export function t(
  lang: Lang,
  key: StringKey,
  params: Record<string, string | number> = {},
): string {
  const template = TABLE[lang][key];
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** Tab label of a view; a view this build does not know keeps its own name. */
export function viewLabel(lang: Lang, view: string): string {
  const key = `view_${view}`;
  return key in en ? t(lang, key as StringKey) : view;
}
