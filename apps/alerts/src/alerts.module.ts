import { Module } from '@nestjs/common';

/** Placeholder until the feature lands; composed by apps/server. */
@Module({})
export class AlertsModule {}
