// What the kernel's errors and refusals say, in the languages other than English. The
// kernel sends its English text with a code and the values in it (`ERROR_CODES` in
// cnnviz_widget/_messages.py); English shows the kernel's own text, other languages are
// rebuilt here from the code. A message without a code (a framework's own error) keeps its
// English text inside a sentence in the interface's language.

import type { Lang, MessageCode, RejectedMessage } from "./protocol";

/** Korean for every code the kernel sends; `{name}` is filled from the message's params. */
const ko = {
  unknown_layer: "모델에 {layer} 층이 없습니다. 이 층을 찾으셨나요: {close}?",
  unknown_layer_list: "모델에 {layer} 층이 없습니다. 모델의 층: {known}",
  unknown_layer_none: "모델에 {layer} 층이 없습니다. 이 모델에는 층이 없습니다.",
  unknown_view: "알 수 없는 보기 {value}입니다. 이 버전의 보기: {views}.",
  sample_range: "sample은 0부터 {max} 사이여야 하는데 {value}입니다.",
  sample_no_images: "이미지가 없습니다(sample은 0이어야 합니다). 받은 값: {value}.",
  cam_method: "cam_method는 {methods} 중 하나여야 하는데 {value}입니다.",
  saliency_method: "saliency_method는 {methods} 중 하나여야 하는데 {value}입니다.",
  class_index_range: "class_index는 -1(최상위 클래스) 또는 0..{max}여야 하는데 {value}입니다.",
  in_channel_range: "in_channel은 {layer}의 입력 채널(0..{max})이어야 하는데 {value}입니다.",
  in_channel_negative: "in_channel은 입력 채널(0 이상)이어야 하는데 {value}입니다.",
  channel_negative: "channel은 -1(없음) 또는 0 이상이어야 하는데 {value}입니다.",
  channel_range: "channel은 -1(없음) 또는 {layer}의 채널(0..{max})이어야 하는데 {value}입니다.",
  filter_count_range: "filter_count는 1부터 {max} 사이여야 하는데 {value}입니다.",
  lang: "lang은 {langs} 중 하나여야 하는데 {value}입니다.",
  no_images: "보여 줄 이미지가 없습니다. LayerExplorer(model, images)로 이미지를 넘겨 주세요.",
  not_called:
    "{layer}은(는) 모델의 순전파에서 호출되지 않아(컨테이너이거나 쓰이지 않는 모듈) 그릴 출력이 없습니다. 그 안의 층을 고르세요.",
  no_channel: "{layer}에는 채널 {channel}이(가) 없습니다.",
  weights_channel:
    "channel은 -1(없음) 또는 {layer}의 필터 번호(0부터 {max})여야 하는데 {value}입니다.",
  no_weights: "{layer} 층({type})에는 보여 줄 가중치가 없습니다.",
  cam_not_spatial:
    "Grad-CAM에는 출력이 2차원 맵의 묶음(N, H, W, C)인 층이 필요합니다. {layer} 층({type})의 출력 모양은 {shape}입니다.",
  cam_no_maps:
    "Grad-CAM에는 출력이 2차원 맵의 묶음(N, H, W, C)인 층이 필요한데, 이 모델의 층은 모두 벡터를 출력하므로 이미지 위에 놓을 맵이 없습니다.",
  not_image_input:
    "히트맵은 이미지의 어디에 근거가 있는지 보여 주므로 이미지 입력(N, H, W, C)이 필요합니다. 이 모델의 입력은 이미지가 아니라 모양 {shape}의 값입니다.",
  not_class_scores:
    "클래스를 설명하려면 모델의 (첫) 출력이 (N, 클래스 수)여야 합니다. 이 모델의 출력 모양은 {shape}입니다.",
  filters_layer:
    "필터 패턴에는 채널이나 유닛이 있는 층이 필요합니다. {layer} 층({type})의 출력 모양은 {shape}입니다.",
  examples_layer:
    "예시에는 채널이나 유닛이 있는 층이 필요합니다. {layer} 층({type})의 출력 모양은 {shape}입니다.",
  examples_channel: "channel은 0부터 {max} 사이여야 하는데 {value}입니다.",
  no_dataset:
    "찾아볼 데이터셋이 없습니다. 각 채널을 가장 강하게 활성화하는 이미지를 보려면 LayerExplorer(model, images, dataset=...)로 데이터셋(모델 입력 배열, tf.data.Dataset, torch DataLoader 또는 배치를 내는 이터러블)을 넘겨 주세요.",
  empty_dataset: "데이터셋이 비어 있습니다. 이미지를 하나도 내지 않았습니다.",
  dataset_changed:
    "데이터셋이 두 번째 읽을 때 다른 이미지를 냈습니다(행 {rows}이(가) 없어졌습니다). 예시 탭은 데이터셋을 두 번 읽으니, 한 번만 읽히는 제너레이터 대신 배열이나 다시 읽을 수 있는 데이터셋(tf.data.Dataset, DataLoader)을 넘겨 주세요.",
} as const;

export type ErrorCode = keyof typeof ko;

/** The rebuilt messages of each language that is not English. */
export const ERROR_STRINGS: Record<Exclude<Lang, "en">, Record<ErrorCode, string>> = { ko };

/** Sentences around a message that has no code (a framework's own error). */
const FRAME: Record<Exclude<Lang, "en">, { failed: string; refused: string }> = {
  ko: {
    failed: "계산하지 못했습니다: {message}",
    refused: "{trait}에 {value} 값을 쓸 수 없어 이전 값을 그대로 둡니다: {message}",
  },
};

function fill(template: string, params: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

function coded(lang: Exclude<Lang, "en">, message: MessageCode): string | undefined {
  const table = ERROR_STRINGS[lang];
  const code = message.code;
  if (code === undefined || !(code in table)) return undefined;
  return fill(table[code as ErrorCode], message.params ?? {});
}

/** An error of the kernel's in `lang`: its own text in English, else rebuilt from its code. */
export function errorText(lang: Lang, message: string, code: MessageCode = {}): string {
  if (lang === "en") return message;
  return coded(lang, code) ?? fill(FRAME[lang].failed, { message });
}

/** The one-line notice for a refused value, in `lang`. */
export function rejectedText(lang: Lang, rejected: RejectedMessage): string {
  if (lang === "en") return rejected.message;
  const value =
    typeof rejected.value === "string" ? rejected.value : JSON.stringify(rejected.value);
  return (
    coded(lang, rejected) ??
    fill(FRAME[lang].refused, { trait: rejected.trait, value, message: rejected.message })
  );
}
