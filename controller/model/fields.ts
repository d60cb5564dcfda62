/** The longest description of a cluster or member (the route schemas enforce it). */
export const DESCRIPTION_MAX = 256;
