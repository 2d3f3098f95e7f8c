export * from './dashboard.module';
export { DashboardController, dashboardPaths, pageMetadata, type DashboardPaths } from './dashboard.controller';
