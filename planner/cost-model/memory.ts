// Model-state memory (weights, gradients, optimizer states) per device: defined once in
// configs/model-state.ts (modelStateBytes: 18 bytes per parameter for bf16 AdamW as Megatron-LM --bf16
// keeps them, 16 for fp32, and how ZeRO stages 0-3 shard them); the cost model uses it from here.
export { modelStateBytes, type ModelStateBytes, type ZeroStage } from '../../configs/model-state.ts';
