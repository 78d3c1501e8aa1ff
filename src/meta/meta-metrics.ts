import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { MembershipView } from './types';

/** What meta exports (its --metrics), prefixed cachalot_meta_; read at each scrape where it is a state. */
export class MetaMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'cachalot_meta_requests_total',
    help: 'gRPC calls meta answered, by method and outcome (ok, or the gRPC status name)',
    labelNames: ['method', 'outcome'],
    registers: [this.registry],
  });
  readonly s3Listings = new Counter({
    name: 'cachalot_meta_s3_listings_total',
    help: 'Folders the shared listing cache listed from S3 (each serves every node that asks within the TTL)',
    registers: [this.registry],
  });

  readonly listingResyncs = new Counter({
    name: 'cachalot_meta_listing_resyncs_total',
    help: 'Nodes told to forget every listing because they fell behind the listing changes sent to them',
    registers: [this.registry],
  });

  constructor() {
    // prom-client's own names carry process_ and nodejs_: cachalot_process_cpu_seconds_total, cachalot_nodejs_eventloop_lag_seconds.
    collectDefaultMetrics({ register: this.registry, prefix: 'cachalot_' });
  }

  /** Membership and listing-cache state, read when /metrics is scraped. */
  track(view: () => MembershipView, listingEntries: () => number, listingWatchers: () => number): void {
    const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge<string>) => void) =>
      new Gauge({ name, help, labelNames, registers: [this.registry], collect(this: Gauge<string>) { this.reset(); collect(this); } });
    gauge('cachalot_meta_epoch', 'The membership epoch', [], (g) => g.set(view().epoch));
    gauge('cachalot_meta_members', 'Live members by state (alive, late)', ['state'], (g) => {
      for (const state of ['alive', 'late']) g.set({ state }, 0);
      for (const member of view().members) g.inc({ state: member.state });
    });
    const sum = (field: 'capacityBytes' | 'usedBytes' | 'hits' | 'misses') => view().members.reduce((total, m) => total + Number(m[field]), 0);
    gauge('cachalot_meta_cluster_cache_capacity_bytes', "Sum of the members' cache capacities", [], (g) => g.set(sum('capacityBytes')));
    gauge('cachalot_meta_cluster_cache_used_bytes', "Sum of the members' cache use, from their heartbeats", [], (g) => g.set(sum('usedBytes')));
    gauge('cachalot_meta_cluster_cache_hits', "Sum of the members' block hits since their daemons started", [], (g) => g.set(sum('hits')));
    gauge('cachalot_meta_cluster_cache_misses', "Sum of the members' block misses since their daemons started", [], (g) => g.set(sum('misses')));
    gauge('cachalot_meta_listing_entries', 'Listing entries the shared listing cache holds', [], (g) => g.set(listingEntries()));
    gauge('cachalot_meta_listing_watchers', 'Nodes watching for listing changes (WatchListings streams open)', [], (g) => g.set(listingWatchers()));
  }
}
