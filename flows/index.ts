/** Flow steering: ethtool's ntuple rules, RSS and channels for the switch's ports. */
export { createSteerer, FlowSteerer } from './steerer.js';
export { loadSteering, loadSteeringControls, applyFlowText, FlowFileErrors, type FlowFileError } from './file.js';
export { SteeringControl } from './control.js';
export { newSharedSteering, STEER_COUNTERS, type SharedSteering } from './shared.js';
export { PortSteering, RULE_TABLE_SIZE, INDIR_SIZE } from './state.js';
export { EthtoolError } from './grammar.js';
