import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { CODEBOOK_V1, EVENT_TYPES, MILESTONE_TYPES } from '@regstream/domain';
import { ProblemException, Public } from '@regstream/http';
import type { Response } from 'express';

/** The package root: the same from src/ (tests) and dist/ (built). */
const ROOT = resolve(__dirname, '..');

export interface DashboardPaths {
  /** index.html and app.css. */
  readonly staticDir: string;
  /** The compiled browser modules (src/web → dist/public). */
  readonly scriptsDir: string;
  readonly echarts: string;
}

export function dashboardPaths(): DashboardPaths {
  return {
    staticDir: join(ROOT, 'static'),
    scriptsDir: join(ROOT, 'dist', 'public'),
    echarts: require.resolve('echarts/dist/echarts.min.js'),
  };
}

/** What the page needs besides the API: the codebook's dimensions and the event catalogue. */
export function pageMetadata(): Record<string, unknown> {
  return {
    codebook: CODEBOOK_V1,
    eventTypes: EVENT_TYPES,
    milestoneTypes: MILESTONE_TYPES,
  };
}

const ASSET = /^[a-z0-9][a-z0-9-]*\.(js|css|map)$/;

/**
 * Serves the single-page dashboard. Every script is a file (the CSP allows no inline script);
 * the page reads the API with the key the user types in.
 */
@ApiExcludeController()
@Public()
@Controller()
export class DashboardController {
  private readonly paths = dashboardPaths();

  @Get()
  index(@Res() res: Response): void {
    this.send(res, join(this.paths.staticDir, 'index.html'), 'no-cache');
  }

  @Get('assets/meta.json')
  meta(@Res() res: Response): void {
    res.setHeader('Cache-Control', 'no-cache');
    res.json(pageMetadata());
  }

  @Get('assets/echarts.min.js')
  echarts(@Res() res: Response): void {
    this.send(res, this.paths.echarts, 'public, max-age=86400');
  }

  @Get('assets/:file')
  asset(@Param('file') file: string, @Res() res: Response): void {
    if (!ASSET.test(file)) throw new ProblemException(404, 'not-found', 'Not found', `no asset ${file}`);
    const candidates = [join(this.paths.scriptsDir, file), join(this.paths.staticDir, file)];
    const found = candidates.find((p) => existsSync(p));
    if (!found) {
      const hint = file.endsWith('.js') ? ' (build the dashboard: npm run build -w @regstream/dashboard)' : '';
      throw new ProblemException(404, 'not-found', 'Not found', `no asset ${file}${hint}`);
    }
    this.send(res, found, 'no-cache');
  }

  private send(res: Response, path: string, cache: string): void {
    if (!existsSync(path)) throw new ProblemException(404, 'not-found', 'Not found', 'the dashboard is not built (npm run build -w @regstream/dashboard)');
    res.sendFile(path, { headers: { 'Cache-Control': cache }, dotfiles: 'deny' });
  }
}
