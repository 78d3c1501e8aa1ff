/**
 * The contract of the metadata service (proto/cachalot/meta.proto), as the
 * TypeScript shapes @grpc/proto-loader gives and takes (camelCase fields,
 * 64-bit integers as numbers).
 */

export interface RegisterRequest {
  nodeId: string;
  /** HOST:PORT of the node's peer service; empty when it serves no peers. */
  peerAddress: string;
  capacityBytes: number;
}

export interface Lease {
  leaseTtlMs: number;
  epoch: number;
}

/**
 * A node's figures, sent with every heartbeat (counters since its daemon
 * started): usedBytes in all its tiers; block hits of any tier, and misses
 * of the last; pinnedBytes in its disk cache (`cachalot pin`); blocks it
 * loaded from their owner (peerBlocks), or from S3 after the owner failed
 * (peerFailures); blocks it served to other nodes (servedBlocks); bytes its
 * GETs brought from S3 (s3GetBytes).
 */
export const NODE_FIGURES = ['usedBytes', 'hits', 'misses', 'pinnedBytes', 'peerBlocks', 'peerFailures', 'servedBlocks', 's3GetBytes', 'listingsFromMeta', 'listingsFromS3'] as const;
export type NodeFigures = Record<(typeof NODE_FIGURES)[number], number>;

/** Every figure, each worked out by valueOf. */
export function figuresBy(valueOf: (field: keyof NodeFigures) => number): NodeFigures {
  return Object.fromEntries(NODE_FIGURES.map((field) => [field, valueOf(field)])) as NodeFigures;
}

/**
 * What a node tells meta with every heartbeat: its figures, and the ids of
 * the peers it passes over now (each failed a request of it, and its blocks
 * come from S3 for a while; docs/CLUSTER.md).
 */
export interface NodeReport extends NodeFigures {
  suspects: string[];
}

export interface HeartbeatRequest extends NodeReport {
  nodeId: string;
}

export interface HeartbeatReply {
  epoch: number;
  /** Meta does not know the node (it restarted, or the lease lapsed): register again. */
  unknown: boolean;
}

/** "late": a heartbeat is overdue but the lease has not lapsed yet. */
export type MemberState = 'alive' | 'late';

export interface Member extends NodeReport {
  id: string;
  address: string;
  state: MemberState;
  leaseAgeMs: number;
  capacityBytes: number;
}

export interface MembershipView {
  epoch: number;
  members: Member[];
}

/** Where meta keeps its epoch, so that epochs never go backwards across a restart. */
export interface EpochStore {
  /** The last epoch saved; 0 when none was. */
  load(): number;
  /** Durable when it returns; throws when it cannot be (then the change is not made). */
  save(epoch: number): void;
}

/** One page of a folder listing from meta's shared listing cache (see meta.proto for the fields). */
export interface ListingRequest {
  bucket: string;
  prefix: string;
  delimiter: string;
  /** '' for the first page. */
  continuationToken: string;
  /** 0: the most meta serves (1000). */
  maxKeys: number;
  /** The oldest listing the asker accepts, ms since meta finished it; -1: any age. */
  maxAgeMs: number;
}

export interface ListedObject {
  key: string;
  size: number;
  etag: string;
  lastModifiedMs: number;
}

export interface ListingPage {
  objects: ListedObject[];
  prefixes: string[];
  /** '' on the last page. */
  continuationToken: string;
  /** Ms since meta finished listing the folder; 0 while it is under way. */
  ageMs: number;
}

/** The most folders one ListingChanged call, or one ListingChanges message, carries. */
export const MAX_CHANGED_FOLDERS = 1000;

/** Folders a node changed in S3 (ListingChanged); a folder is a prefix as nodes list it: '' or ending with '/'. */
export interface ListingChangedRequest {
  nodeId: string;
  bucket: string;
  folders: string[];
}

/** One message of WatchListings: folders of one bucket another node changed, or a resync (forget every listing). */
export interface ListingChanges {
  bucket: string;
  folders: string[];
  resync: boolean;
}
