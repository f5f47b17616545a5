// The Tensor wire format shared by every service: typed arrays in, typed-array views out.
export {
  TensorError,
  decodeTensor,
  dtypeName,
  encodeTensor,
  int64ToInt32,
  itemSize,
  type DecodedTensor,
  type TensorExpectation,
  type TensorValues,
  type ValuesOf,
} from "./tensor.ts";
export { TOKEN_DTYPES, decodeTokens, type DecodedTokens, type TokenTensorExpectation } from "./tokens.ts";
