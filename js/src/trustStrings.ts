// The strings of "how far to trust a heatmap" (the faithfulness read-out, the sanity check,
// the saliency methods), in their own table like i18n.ts: a missing Korean string is a type
// error, and `{name}` placeholders are filled the same way.

import type { Lang, SaliencyMethod } from "./protocol";

const en = {
  saliency_gradients: "Gradients",
  saliency_smoothgrad: "SmoothGrad",
  saliency_integrated: "Integrated gradients",
  saliencyHint_gradients: "How the score moves when one pixel is nudged (fast, local)",
  saliencyHint_smoothgrad: "Average the gradients of 25 noisy copies (slower, less noisy)",
  saliencyHint_integrated:
    "Gradients added up along a straight path from a black image (50 steps): the attributions sum to the change of the class score",
  completeness: "attributions sum to {sum} (completeness gap {gap})",
  completenessShare:
    "attributions sum to {sum} (completeness gap {gap}, {share} of the score change)",
  completenessHint:
    "Integrated gradients add up to score(image) − score(black image); the gap is what the 50-step sum misses. A large gap means a less exact map.",
  sanityToggle: "Sanity check: same map on the untrained copy",
  sanityHint:
    "Also compute the map on a copy of the model with fresh random weights (your model is not changed). A map that explains the model should look different there.",
  untrainedCopy: "Untrained copy",
  sanityAlt: "{method} heatmap of the untrained copy for class {name}",
  sanityPending: "Computing the untrained copy…",
  rankCorrelation:
    "rank correlation with the trained map: {r} (near 1 means the map barely depends on what the model learned)",
  faithfulnessPending: "Measuring faithfulness…",
  faithfulnessTitle: "Faithfulness of this map ({steps} steps)",
  faithfulnessHint:
    "The pixels this map ranks highest are removed (deletion) or restored (insertion) first, {share} more at each step, and the probability of class {name} is measured. A random map of the same size is the level to beat.",
  colMetric: "AUC",
  colMap: "this map",
  colRandom: "random map",
  deletionAuc: "Deletion",
  insertionAuc: "Insertion",
  lowerBetter: "lower is better",
  higherBetter: "higher is better",
  beatsRandom: "better than random",
  notBeatsRandom: "no better than random",
  plotTitle:
    "Probability of class {name} as the pixels the map ranks highest are removed (deletion) or restored (insertion)",
  plotX: "fraction of pixels removed / restored",
  plotY: "probability",
  seriesDeletionMap: "deletion, this map",
  seriesDeletionRandom: "deletion, random map",
  seriesInsertionMap: "insertion, this map",
  seriesInsertionRandom: "insertion, random map",
} as const;

export type TrustKey = keyof typeof en;

const ko: Record<TrustKey, string> = {
  saliency_gradients: "기울기",
  saliency_smoothgrad: "SmoothGrad",
  saliency_integrated: "통합 기울기",
  saliencyHint_gradients: "픽셀 하나를 조금 바꿀 때 점수가 움직이는 정도 (빠르고 국소적)",
  saliencyHint_smoothgrad: "노이즈를 더한 25개 복사본의 기울기 평균 (느리지만 덜 흐트러짐)",
  saliencyHint_integrated:
    "검은 이미지에서 입력까지 직선 경로를 따라 기울기를 더함 (50단계): 기여도의 합이 클래스 점수의 변화와 같음",
  completeness: "기여도 합계 {sum} (완전성 오차 {gap})",
  completenessShare: "기여도 합계 {sum} (완전성 오차 {gap}, 점수 변화의 {share})",
  completenessHint:
    "통합 기울기의 합은 score(이미지) − score(검은 이미지)와 같아야 하며, 오차는 50단계 합이 놓친 부분입니다. 오차가 크면 맵이 덜 정확합니다.",
  sanityToggle: "타당성 검사: 학습되지 않은 복사본에서 같은 맵",
  sanityHint:
    "무작위 가중치로 새로 초기화한 모델 복사본에서도 맵을 계산합니다 (원래 모델은 바뀌지 않음). 모델을 설명하는 맵이라면 복사본에서는 달라 보여야 합니다.",
  untrainedCopy: "학습되지 않은 복사본",
  sanityAlt: "학습되지 않은 복사본의 {method} 히트맵 (클래스 {name})",
  sanityPending: "학습되지 않은 복사본 계산 중…",
  rankCorrelation:
    "학습된 맵과의 순위 상관: {r} (1에 가까우면 맵이 모델이 학습한 것에 거의 의존하지 않음)",
  faithfulnessPending: "충실도 측정 중…",
  faithfulnessTitle: "이 맵의 충실도 ({steps}단계)",
  faithfulnessHint:
    "맵이 높게 평가한 픽셀부터 지우거나(삭제) 되살리며(삽입) 단계마다 {share}씩 늘리고, 클래스 {name}의 확률을 잽니다. 같은 크기의 무작위 맵이 넘어야 할 기준입니다.",
  colMetric: "AUC",
  colMap: "이 맵",
  colRandom: "무작위 맵",
  deletionAuc: "삭제",
  insertionAuc: "삽입",
  lowerBetter: "낮을수록 좋음",
  higherBetter: "높을수록 좋음",
  beatsRandom: "무작위보다 나음",
  notBeatsRandom: "무작위보다 낫지 않음",
  plotTitle: "맵이 높게 평가한 픽셀부터 지우거나(삭제) 되살릴 때(삽입) 클래스 {name}의 확률",
  plotX: "지우거나 되살린 픽셀 비율",
  plotY: "확률",
  seriesDeletionMap: "삭제, 이 맵",
  seriesDeletionRandom: "삭제, 무작위 맵",
  seriesInsertionMap: "삽입, 이 맵",
  seriesInsertionRandom: "삽입, 무작위 맵",
};

export const TRUST_STRINGS: Record<Lang, Record<TrustKey, string>> = { en, ko };

/** The string for `key` with `{name}` placeholders filled from `params`. */
export function trust(
  lang: Lang,
  key: TrustKey,
  params: Record<string, string | number> = {},
): string {
  const template = (TRUST_STRINGS[lang] ?? en)[key];
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** The selector's label of a saliency method; an unknown one keeps its own name. */
export function saliencyLabel(lang: Lang, method: string): string {
  const key = `saliency_${method}`;
  return key in en ? trust(lang, key as TrustKey) : method;
}

export function saliencyHint(lang: Lang, method: SaliencyMethod): string {
  return trust(lang, `saliencyHint_${method}`);
}
