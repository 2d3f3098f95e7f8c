import { Module } from '@nestjs/common';
import { DashboardController } from './dashboard.controller';

/**
 * The web dashboard over the read API, served at `/`: a static page, its compiled browser modules
 * and ECharts. Composed by apps/server; every route is public (the page asks for an API key and
 * sends it with each API call).
 */
@Module({ controllers: [DashboardController] })
export class DashboardModule {}
