import { type DynamicModule, Module } from '@nestjs/common';
import { ProjectorAdminController } from './admin.controller';
import { PROJECTOR_OPTIONS, type ProjectorModuleOptions, ProjectorService } from './projector.service';

/**
 * The projector: consumer-group workers that keep the read models (see @regstream/projections).
 * A plain module for the all-in-one server; `register` for options (tests, a second group).
 */
@Module({
  controllers: [ProjectorAdminController],
  providers: [ProjectorService],
  exports: [ProjectorService],
})
export class ProjectorModule {
  static register(options: ProjectorModuleOptions): DynamicModule {
    return {
      module: ProjectorModule,
      providers: [{ provide: PROJECTOR_OPTIONS, useValue: options }],
    };
  }
}
