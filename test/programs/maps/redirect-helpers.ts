import type { RedirectMap } from '../../../programs/context.js';
import type { XdpMap } from '../../../programs/maps/index.js';
export { createMap, openMap } from '../../../programs/maps/index.js';
export type RedirectMapLike = XdpMap & RedirectMap;
